"""Change points: asv's step detection on each cell's series, kept beyond the noise floor,
with what changed at the step."""

import pytest
from synthetic_runs import sample_cell, sample_run

from enginebench.results.changes import change_points


def _history(levels: list[float], versions: list[str], engine: str = "a") -> list:
    return [sample_run(f"r{i}", [sample_cell(engine, [v] * 5, version=ver)], minutes=i)
            for i, (v, ver) in enumerate(zip(levels, versions, strict=True))]


def test_a_step_with_a_version_change_is_found() -> None:
    runs = _history([100, 101, 99, 100, 80, 81, 79, 80], ["1"] * 4 + ["2"] * 4)
    (step,) = change_points("m", runs, noise_pct=3.0)
    assert (step.engine, step.metric, step.run_id) == ("a", "decode_tps", "r4")
    assert step.before == pytest.approx(100.0) and step.after == pytest.approx(80.0)
    assert step.change_pct == pytest.approx(-20.0)
    assert (step.runs_before, step.runs_after) == (4, 4)
    assert step.cause == "a 1 -> 2"


def test_a_step_within_the_noise_floor_is_left_out() -> None:
    runs = _history([100, 101, 99, 100, 96, 97, 95, 96], ["1"] * 8)  # one step of -4%
    assert change_points("m", runs, noise_pct=5.0) == []
    (step,) = change_points("m", runs, noise_pct=3.0)
    assert step.change_pct == pytest.approx(-4.0)
    assert step.cause == "no recorded change (the machine, or noise)"


def test_flat_short_and_foreign_series_give_nothing() -> None:
    assert change_points("m", _history([100, 101, 99, 100, 102, 98], ["1"] * 6), 3.0) == []
    assert change_points("m", _history([100, 50, 100], ["1"] * 3), 3.0) == []  # < 4 runs
    steps = _history([100, 100, 50, 50], ["1"] * 4)
    assert change_points("other-machine", steps, 3.0) == []
