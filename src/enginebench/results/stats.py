"""Summary statistics of repeated samples, as every results document stores them: median,
mean, sd, a 95% CI, CV, Tukey outliers (flagged, never dropped) and the raw samples."""

import functools
import math
import statistics

import numpy as np
from scipy import stats


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
