"""Every metric of a cell, computed from per-token timestamps the same way for every engine."""

import itertools
import math
from dataclasses import dataclass, field

from enginebench.results.stats import percentiles, summarize


@dataclass(frozen=True)
class Trace:
    """One repetition: when the request started and when each new token became available."""

    start: float
    times: list[float]
    ids: list[int]
    batch_ids: list[list[int]] = field(default_factory=list)

    @property
    def sequences(self) -> list[list[int]]:
        """Every sequence's ids: the batch's, or the one sequence's."""
        return self.batch_ids or [self.ids]


@dataclass(frozen=True)
class RepMetrics:
    ttft_ms: float
    prefill_tps: float
    decode_tps: float
    e2e_ms: float
    itl_ms: list[float]


def rep_metrics(trace: Trace, prompt_tokens: int, batch: int = 1) -> RepMetrics:
    """TTFT, prefill rate B*P/TTFT, decode rate B*(N-1)/(t_N - t_1) (aggregate over the
    batch's B sequences), end-to-end, gaps between steps."""
    t = trace.times
    ttft = t[0] - trace.start
    decode = t[-1] - t[0]
    return RepMetrics(
        ttft_ms=ttft * 1e3,
        prefill_tps=batch * prompt_tokens / ttft if ttft > 0 else math.inf,
        decode_tps=batch * (len(t) - 1) / decode if decode > 0 else math.inf,
        e2e_ms=(t[-1] - trace.start) * 1e3,
        itl_ms=[(b - a) * 1e3 for a, b in itertools.pairwise(t)],
    )


def cell_metrics(traces: list[Trace], rounds: list[int], prompt_tokens: int,
                 batch: int = 1) -> dict:
    """Summaries of every metric over the repetitions of one cell (all rounds pooled); a
    batch cell adds the per-sequence decode rate."""
    reps = [rep_metrics(t, prompt_tokens, batch) for t in traces]
    per_seq = {"seq_decode_tps": summarize([r.decode_tps / batch for r in reps], rounds)} \
        if batch > 1 else {}
    return {
        "prefill_tps": summarize([r.prefill_tps for r in reps], rounds),
        "decode_tps": summarize([r.decode_tps for r in reps], rounds),
        **per_seq,
        "ttft_ms": summarize([r.ttft_ms for r in reps], rounds),
        "e2e_ms": summarize([r.e2e_ms for r in reps], rounds),
        "itl_ms": percentiles([x for r in reps for x in r.itl_ms]),
    }
