"""Change points over time: each cell's decode and prefill medians across a machine's runs,
split into steps by asv's own step detection (`asv.step_detect.detect_steps`, a Potts-model
fit), and each step kept where its size is beyond the machine's noise floor.

A series is one cell (engine, precision, device) of one model at one thread count, at the
runs' headline point (the one point per run the trend charts draw), in time order.
"""

import itertools
from dataclasses import dataclass

from asv.step_detect import detect_steps

from enginebench.results.schema import Cell, Run

SERIES_METRICS = {"decode_tps": "decode tok/s", "prefill_tps": "prefill tok/s"}
# asv's fit splits a series of 3 into single points; from 4 runs on, a step is a level
MIN_RUNS = 4


@dataclass(frozen=True)
class ChangePoint:
    machine: str
    model: str
    engine: str
    precision: str
    device: str
    threads: int
    metric: str
    run_id: str  # the first run of the new step
    date: str
    before: float  # the previous step's level (asv's step value)
    after: float
    runs_before: int
    runs_after: int
    version_before: str | None
    version_after: str | None
    suite_before: str | None  # the suite's commit on either side
    suite_after: str | None

    @property
    def change_pct(self) -> float:
        return 100 * (self.after / self.before - 1)

    @property
    def cell(self) -> str:
        return f"{self.engine} {self.precision}" + \
            (f" {self.device}" if self.device != "cpu" else "") + f", {self.threads} threads"

    @property
    def cause(self) -> str:
        """What changed at the step, as far as the documents tell."""
        parts = []
        if self.version_before != self.version_after:
            parts.append(f"{self.engine} {self.version_before} -> {self.version_after}")
        if self.suite_before != self.suite_after:
            parts.append(f"suite {(self.suite_before or '?')[:8]} -> "
                         f"{(self.suite_after or '?')[:8]}")
        return ", ".join(parts) or "no recorded change (the machine, or noise)"


def _suite(run: Run) -> str | None:
    suite = run.environment.get("suite")
    return suite.get("commit") if isinstance(suite, dict) else None


def series(runs: list[Run]) -> dict[tuple[str, str, str, str, int], list[tuple[Run, Cell]]]:
    """(model, engine, precision, device, threads) -> its ok headline cells, oldest run
    first."""
    out: dict[tuple[str, str, str, str, int], list[tuple[Run, Cell]]] = {}
    for run in sorted(runs, key=lambda r: (r.created_at, r.run_id)):
        for c in run.headline_cells():
            if c.status == "ok":
                key = (str(run.model.get("name")), c.engine, c.precision, c.device,
                       run.workload.threads)
                out.setdefault(key, []).append((run, c))
    return out


def change_points(machine: str, runs: list[Run], noise_pct: float) -> list[ChangePoint]:
    """Every step in every series of `machine`'s runs larger than `noise_pct` percent,
    oldest first."""
    own = [r for r in runs if r.machine.label == machine]
    found = []
    for (model, engine, precision, device, threads), points in series(own).items():
        for metric in SERIES_METRICS:
            kept = [(run, c, getattr(c.metrics, metric)) for run, c in points]
            kept = [(run, c, stat.median) for run, c, stat in kept if stat and stat.median > 0]
            if len(kept) < MIN_RUNS:
                continue
            steps = detect_steps([v for _, _, v in kept])
            for prev, step in itertools.pairwise(steps):
                before, after = prev[2], step[2]
                if abs(after / before - 1) * 100 <= noise_pct:
                    continue
                i = step[0]
                run_a, cell_a, _ = kept[i - 1]
                run_b, cell_b, _ = kept[i]
                found.append(ChangePoint(
                    machine, model, engine, precision, device, threads, metric, run_b.run_id,
                    run_b.created_at.strftime("%Y-%m-%d %H:%M"), before, after,
                    prev[1] - prev[0], step[1] - step[0], cell_a.engine_version,
                    cell_b.engine_version, _suite(run_a), _suite(run_b)))
    return sorted(found, key=lambda p: (p.date, p.run_id, p.engine, p.precision, p.metric))
