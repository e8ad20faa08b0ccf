"""Every metric of a cell, computed from per-token timestamps the same way for every engine."""

import itertools
import math
from dataclasses import dataclass

from enginebench.results.stats import percentiles, summarize


@dataclass(frozen=True)
class Trace:
    """One repetition: when the request started and when each new token became available."""

    start: float
    times: list[float]
    ids: list[int]


@dataclass(frozen=True)
class RepMetrics:
    ttft_ms: float
    prefill_tps: float
    decode_tps: float
    e2e_ms: float
    itl_ms: list[float]


def rep_metrics(trace: Trace, prompt_tokens: int) -> RepMetrics:
    """TTFT, prefill rate P/TTFT, decode rate (N-1)/(t_N - t_1), end-to-end, gaps."""
    t = trace.times
    ttft = t[0] - trace.start
    decode = t[-1] - t[0]
    return RepMetrics(
        ttft_ms=ttft * 1e3,
        prefill_tps=prompt_tokens / ttft if ttft > 0 else math.inf,
        decode_tps=(len(t) - 1) / decode if decode > 0 else math.inf,
        e2e_ms=(t[-1] - trace.start) * 1e3,
        itl_ms=[(b - a) * 1e3 for a, b in itertools.pairwise(t)],
    )


def cell_metrics(traces: list[Trace], rounds: list[int], prompt_tokens: int) -> dict:
    """Summaries of every metric over the repetitions of one cell (all rounds pooled)."""
    reps = [rep_metrics(t, prompt_tokens) for t in traces]
    return {
        "prefill_tps": summarize([r.prefill_tps for r in reps], rounds),
        "decode_tps": summarize([r.decode_tps for r in reps], rounds),
        "ttft_ms": summarize([r.ttft_ms for r in reps], rounds),
        "e2e_ms": summarize([r.e2e_ms for r in reps], rounds),
        "itl_ms": percentiles([x for r in reps for x in r.itl_ms]),
    }
