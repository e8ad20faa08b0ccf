"""A machine's noise floor, measured from its own A/A data: how far the same cell's decode
rate moves when nothing changed.

Two kinds of A/A pair count: consecutive rounds of one cell within a run (the suite
interleaves rounds, so each round is a fresh process at another moment), and the same cell
in consecutive runs of the machine with the engine's version, the suite's commit (with no
local changes), the threads and the warm-ups unchanged. The floor follows
rustc-perf's rule on the magnitudes of those changes: max(MIN_FLOOR_PCT, Q3 + 3 IQR); with
fewer than MIN_PAIRS pairs it is MIN_FLOOR_PCT and says so.
"""

import itertools
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from enginebench.results.compare import DEFAULT_NOISE_PCT, cell_key
from enginebench.results.schema import Run
from enginebench.results.store import write_atomic

MIN_FLOOR_PCT = DEFAULT_NOISE_PCT
MIN_PAIRS = 8
RULE = (f"max({MIN_FLOOR_PCT:g}%, Q3 + 3 IQR of the |changes| of decode tok/s between A/A "
        "pairs: consecutive rounds of a cell, and a cell in consecutive runs with its engine "
        f"version, the suite's commit, threads and warm-ups unchanged); {MIN_FLOOR_PCT:g}% "
        "with fewer than "
        f"{MIN_PAIRS} pairs")


@dataclass(frozen=True)
class NoiseFloor:
    machine: str
    pct: float
    within_run: int  # pairs of consecutive rounds
    across_runs: int  # pairs of consecutive runs
    q3: float | None
    iqr: float | None
    rule: str = RULE

    @property
    def pairs(self) -> int:
        return self.within_run + self.across_runs

    @property
    def text(self) -> str:
        if self.q3 is None:
            return (f"{self.pct:g}% (the minimum: {self.pairs} A/A pairs, {MIN_PAIRS} are "
                    "needed to measure it)")
        return (f"{self.pct:.1f}% (from {self.pairs} A/A pairs: {self.within_run} between "
                f"rounds, {self.across_runs} between runs; Q3 {self.q3:.1f}%, IQR "
                f"{self.iqr:.1f}%)")


def _pct(a: float, b: float) -> float:
    return 100 * abs(b / a - 1)


def within_run_changes(runs: list[Run]) -> list[float]:
    """|change| in percent between consecutive round medians of every ok cell."""
    out = []
    for run in runs:
        for c in run.cells:
            stat = c.metrics.decode_tps
            if c.status != "ok" or stat is None:
                continue
            rounds = [x for x in stat.round_medians if x > 0]
            out += [_pct(a, b) for a, b in itertools.pairwise(rounds)]
    return out


def _clean_commit(run: Run) -> str | None:
    """The suite's commit the run was measured with, None when unknown or with local
    changes (the adapters are part of what a cell measures)."""
    suite = run.environment.get("suite")
    if not isinstance(suite, dict) or suite.get("dirty") is not False:
        return None
    return suite.get("commit")


def across_run_changes(runs: list[Run]) -> list[float]:
    """|change| in percent of a cell's median between consecutive runs (in time) that hold
    it at the same engine version, suite commit (clean), threads and warm-ups: a run with
    other code or settings measures something else, not noise."""
    last: dict[tuple, tuple[str | None, float]] = {}
    out = []
    for run in sorted(runs, key=lambda r: (r.created_at, r.run_id)):
        commit = _clean_commit(run)
        if commit is None:
            continue
        for c in run.cells:
            stat = c.metrics.decode_tps
            if c.status != "ok" or stat is None or stat.median <= 0:
                continue
            key = (*cell_key(run, c), commit, run.workload.threads, run.workload.warmups)
            before = last.get(key)
            if before and before[0] == c.engine_version:
                out.append(_pct(before[1], stat.median))
            last[key] = (c.engine_version, stat.median)
    return out


def noise_floor(machine: str, runs: list[Run]) -> NoiseFloor:
    """The floor for `machine` from its runs (runs of other machines are left out)."""
    own = [r for r in runs if r.machine.label == machine]
    within, across = within_run_changes(own), across_run_changes(own)
    changes = within + across
    if len(changes) < MIN_PAIRS:
        return NoiseFloor(machine, MIN_FLOOR_PCT, len(within), len(across), None, None)
    q1, q3 = np.percentile(changes, [25, 75])
    iqr = float(q3 - q1)
    return NoiseFloor(machine, max(MIN_FLOOR_PCT, float(q3) + 3 * iqr), len(within),
                      len(across), float(q3), iqr)


def save_noise_floor(floor: NoiseFloor, runs: list[Run], path: Path) -> None:
    """The floor as a JSON record beside the results (the nightly commits it, so its history
    is the floor's): the figures, the rule, and the runs it was measured from."""
    own = [r for r in runs if r.machine.label == floor.machine]
    record = {**asdict(floor), "text": floor.text,
              "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "runs": len(own), "latest_run": own[-1].run_id if own else None}
    write_atomic(path, json.dumps(record, indent=1) + "\n")
