"""Every metric of a cell, computed from per-token timestamps the same way for every engine."""

import functools
import itertools
import math
import statistics
from dataclasses import dataclass

import numpy as np
from scipy import stats


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


def outlier_indices(samples: list[float]) -> list[int]:
    """Samples outside Tukey's fences (1.5 IQR beyond the quartiles): flagged, never dropped."""
    if len(samples) < 4:
        return []
    q1, q3 = np.percentile(samples, [25, 75])
    lo, hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    return [i for i, x in enumerate(samples) if x < lo or x > hi]


def _cv(values: list[float]) -> float | None:
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    return statistics.stdev(values) / mean if mean else None


@functools.cache
def _t975(dof: int) -> float:
    return float(stats.t.ppf(0.975, dof))


def summarize(samples: list[float], rounds: list[int] | None = None) -> dict:
    """Median, mean, sample sd, 95% CI of the mean (Student t), CV, outliers, raw samples.

    `rounds[i]` is the round of `samples[i]`; with more than one round, each round's
    median and the CV between them are reported beside the CV within the pooled samples.
    """
    n = len(samples)
    mean = statistics.fmean(samples)
    sd = statistics.stdev(samples) if n > 1 else 0.0
    if n > 1:
        half = _t975(n - 1) * sd / math.sqrt(n)
        ci95 = [mean - half, mean + half]
    else:
        ci95 = [mean, mean]
    rounds = rounds or [0] * n
    by_round: dict[int, list[float]] = {}
    for r, x in zip(rounds, samples, strict=True):
        by_round.setdefault(r, []).append(x)
    round_medians = [statistics.median(v) for _, v in sorted(by_round.items())]
    return {
        "median": statistics.median(samples),
        "mean": mean,
        "sd": sd,
        "ci95": ci95,
        "cv": sd / mean if n > 1 and mean else None,
        "samples": list(samples),
        "outliers": outlier_indices(samples),
        "round_medians": round_medians,
        "round_cv": _cv(round_medians),
    }


def percentiles(values: list[float]) -> dict:
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99)}


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
