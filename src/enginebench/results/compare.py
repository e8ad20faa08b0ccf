"""Two runs compared cell by cell: the ratio of medians with a seeded bootstrap interval,
the Mann-Whitney U p-value, and a verdict that calls a change only when the interval
excludes 1 and the change is beyond the machine's noise floor.

Cells match on engine, precision, device, model (name and fingerprint) and workload point.
The rule, as asv compare and criterion.rs decide it: `faster`/`slower` only when the 95%
bootstrap interval of the speed ratio lies wholly on one side of 1 **and** the median
ratio is further from 1 than the noise floor; with fewer than MIN_SAMPLES samples on a
side, `too few samples`. Peak RSS is one figure per cell, so it has no interval: it is
`larger`/`smaller` when it moved past the noise floor.
"""

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

from enginebench.results.schema import Cell, Point, Run, Stat

MIN_SAMPLES = 3
RESAMPLES = 2000
DEFAULT_SEED = 0
DEFAULT_NOISE_PCT = 3.0
# metric -> (label, True where a larger figure is better)
METRICS: dict[str, tuple[str, bool]] = {
    "decode_tps": ("decode tok/s", True),
    "prefill_tps": ("prefill tok/s", True),
    "ttft_ms": ("TTFT ms", False),
    "peak_rss_mb": ("peak RSS MB", False),
}
VERDICTS = ("faster", "slower", "no change", "too few samples", "larger", "smaller",
            "not comparable")
RULE = ("faster/slower: the 95% bootstrap interval of new/base (medians, {resamples} "
        "resamples, seed {seed}) excludes 1 and the median ratio is more than {noise:.1f}% "
        "from 1; fewer than {min} samples on a side: too few samples; peak RSS (one figure "
        "per cell): larger/smaller past {noise:.1f}%")


@dataclass(frozen=True)
class Row:
    """One metric of one matched cell."""

    engine: str
    precision: str
    device: str
    model: str
    point: str
    metric: str
    base: float | None
    new: float | None
    ratio: float | None  # new / base, in the metric's own direction
    ci95: tuple[float, float] | None
    p_value: float | None
    n_base: int
    n_new: int
    verdict: str
    why: str = ""


@dataclass
class Comparison:
    base_run: str
    new_run: str
    seed: int
    resamples: int
    noise_pct: float
    noise_source: str
    rule: str
    rows: list[Row] = field(default_factory=list)
    unmatched_base: list[str] = field(default_factory=list)
    unmatched_new: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def slowdowns_above(self, pct: float) -> list[Row]:
        """Rows called `slower` whose slowdown exceeds `pct` percent."""
        return [r for r in self.rows if r.verdict == "slower" and r.ratio is not None
                and _slowdown_pct(r) > pct]


def _slowdown_pct(row: Row) -> float:
    """How much slower, in percent of the base's speed (positive when slower)."""
    assert row.ratio is not None
    higher_better = METRICS[row.metric][1]
    speed = row.ratio if higher_better else 1 / row.ratio
    return 100 * (1 - speed)


def bootstrap_ratio(base: list[float], new: list[float], seed: int,
                    resamples: int = RESAMPLES) -> tuple[float, float]:
    """95% percentile interval of median(new) / median(base), each side resampled with
    replacement independently; the same seed gives the same interval."""
    rng = np.random.default_rng(seed)
    b = np.asarray(base, dtype=float)
    n = np.asarray(new, dtype=float)
    b_med = np.median(b[rng.integers(0, len(b), (resamples, len(b)))], axis=1)
    n_med = np.median(n[rng.integers(0, len(n), (resamples, len(n)))], axis=1)
    lo, hi = np.percentile(n_med / b_med, [2.5, 97.5])
    return float(lo), float(hi)


def mann_whitney_p(base: list[float], new: list[float]) -> float:
    """Two-sided Mann-Whitney U p-value (exact for small samples without ties). With 5
    samples a side the smallest possible p is 0.0079: asv's p < 0.002 needs more."""
    return float(stats.mannwhitneyu(new, base, alternative="two-sided").pvalue)


def verdict(base: list[float], new: list[float], higher_better: bool, noise_pct: float,
            seed: int, resamples: int = RESAMPLES
            ) -> tuple[float, tuple[float, float] | None, float | None, str]:
    """(ratio of medians, its interval, the p-value, the verdict) for two sample lists."""
    ratio = float(np.median(new) / np.median(base))
    if min(len(base), len(new)) < MIN_SAMPLES:
        return ratio, None, None, "too few samples"
    ci = bootstrap_ratio(base, new, seed, resamples)
    p = mann_whitney_p(base, new)
    beyond = abs(ratio - 1) * 100 > noise_pct
    if ci[0] > 1 and beyond:
        return ratio, ci, p, "faster" if higher_better else "slower"
    if ci[1] < 1 and beyond:
        return ratio, ci, p, "slower" if higher_better else "faster"
    return ratio, ci, p, "no change"


def _samples(stat: Stat | None) -> list[float]:
    """A metric's raw samples (asv's results keep only the median: one figure)."""
    if stat is None:
        return []
    return list(stat.samples) or [stat.median]


def model_fingerprint(run: Run) -> str:
    """What tells two runs' weights apart: the generated model's fingerprint, or a local
    checkpoint's path hash; empty when the run records neither."""
    return str(run.model.get("fingerprint") or run.model.get("path_hash") or "")


def cell_key(run: Run, cell: Cell) -> tuple[str, str, str, str, Point]:
    model = str(run.model.get("name"))
    fingerprint = model_fingerprint(run)
    return (cell.engine, cell.precision, cell.device,
            f"{model}@{fingerprint}" if fingerprint else model, run.point(cell))


def _label(key: tuple[str, str, str, str, Point]) -> str:
    engine, precision, device, model, point = key
    return f"{engine} {precision} {device} {model.split('@')[0]} {point.label}"


def _rows(key: tuple[str, str, str, str, Point], a: Cell, b: Cell, noise_pct: float,
          seed: int, resamples: int) -> list[Row]:
    engine, precision, device, model, point = key
    common = {"engine": engine, "precision": precision, "device": device,
              "model": model.split("@")[0], "point": point.label}
    if a.status != "ok" or b.status != "ok":
        why = f"base {a.status}, new {b.status}"
        return [Row(**common, metric="decode_tps", base=None, new=None, ratio=None, ci95=None,
                    p_value=None, n_base=0, n_new=0, verdict="not comparable", why=why)]
    rows = []
    for metric, (_, higher_better) in METRICS.items():
        if metric == "peak_rss_mb":
            x, y = a.metrics.peak_rss_mb, b.metrics.peak_rss_mb
            if x is None or y is None or x <= 0:
                continue
            ratio = y / x
            word = ("larger" if ratio > 1 else "smaller") \
                if abs(ratio - 1) * 100 > noise_pct else "no change"
            rows.append(Row(**common, metric=metric, base=x, new=y, ratio=ratio, ci95=None,
                            p_value=None, n_base=1, n_new=1, verdict=word))
            continue
        xs = _samples(getattr(a.metrics, metric))
        ys = _samples(getattr(b.metrics, metric))
        if not xs or not ys or float(np.median(xs)) <= 0:
            continue
        ratio, ci, p, word = verdict(xs, ys, higher_better, noise_pct, seed, resamples)
        rows.append(Row(**common, metric=metric, base=float(np.median(xs)),
                        new=float(np.median(ys)), ratio=ratio, ci95=ci, p_value=p,
                        n_base=len(xs), n_new=len(ys), verdict=word))
    return rows


def compare(base: Run, new: Run, noise_pct: float = DEFAULT_NOISE_PCT,
            seed: int = DEFAULT_SEED, resamples: int = RESAMPLES,
            noise_source: str = "the default") -> Comparison:
    """Every cell of `base` against the matching cell of `new`; `noise_source` says where
    the noise floor came from."""
    a = {cell_key(base, c): c for c in base.cells}
    b = {cell_key(new, c): c for c in new.cells}
    out = Comparison(base_run=base.run_id, new_run=new.run_id, seed=seed,
                     resamples=resamples, noise_pct=noise_pct, noise_source=noise_source,
                     rule=RULE.format(resamples=resamples, seed=seed, noise=noise_pct,
                                      min=MIN_SAMPLES))
    for key, cell in a.items():
        if key in b:
            out.rows += _rows(key, cell, b[key], noise_pct, seed, resamples)
        else:
            out.unmatched_base.append(_label(key))
    out.unmatched_new = [_label(k) for k in b if k not in a]
    return out


def previous_run(run: Run, history: list[Run]) -> Run | None:
    """The latest run in `history` before `run` of the same machine, model (and weights)
    and workload points: what a nightly run is compared with."""
    def points(r: Run) -> set[Point]:
        return {*r.workload.points, *(r.point(c) for c in r.cells)}

    same = [r for r in history if r.created_at < run.created_at
            and r.machine.label == run.machine.label
            and r.model.get("name") == run.model.get("name")
            and r.model.get("fingerprint") == run.model.get("fingerprint")
            and points(r) == points(run)]
    return max(same, key=lambda r: (r.created_at, r.run_id)) if same else None
