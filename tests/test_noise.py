"""The noise floor: A/A changes between rounds and between runs, and the Q3 + 3 IQR rule."""

import json

import pytest
from synthetic_runs import sample_cell, sample_run

from enginebench.cli import main
from enginebench.results.noise import (
    MIN_FLOOR_PCT,
    across_run_changes,
    noise_floor,
    within_run_changes,
)
from enginebench.results.store import save_run


def test_changes_between_consecutive_rounds() -> None:
    cell = sample_cell("a", [100, 100, 110, 110, 99, 99], rounds=[0, 0, 1, 1, 2, 2])
    assert within_run_changes([sample_run("r", [cell])]) == pytest.approx([10.0, 10.0])


def test_changes_between_runs_need_an_unchanged_engine() -> None:
    runs = [sample_run("r1", [sample_cell("a", [100.0])]),
            sample_run("r2", [sample_cell("a", [102.0])], minutes=1),
            sample_run("r3", [sample_cell("a", [50.0], version="2")], minutes=2),
            sample_run("r4", [sample_cell("a", [51.0], version="2")], minutes=3),
            sample_run("r5", [sample_cell("b", [10.0])], minutes=4)]
    # r1 -> r2 (2%), not r2 -> r3 (the version changed), r3 -> r4 (2%); b has no pair
    assert across_run_changes(list(reversed(runs))) == pytest.approx([2.0, 2.0])


def test_changes_between_runs_need_the_same_clean_suite_commit() -> None:
    runs = [sample_run("r1", [sample_cell("a", [100.0])]),
            sample_run("r2", [sample_cell("a", [102.0])], minutes=1, commit="beef"),
            sample_run("r3", [sample_cell("a", [104.0])], minutes=2, commit="beef"),
            sample_run("r4", [sample_cell("a", [90.0])], minutes=3, commit="beef", dirty=True)]
    # only r2 -> r3: r1 -> r2 changed the adapters' code, r4 had local changes
    assert across_run_changes(runs) == pytest.approx([100 * (104 / 102 - 1)])


def _round_pairs(changes_pct: list[float]) -> list:
    """One run whose cells each have two rounds that differ by the given percentages."""
    cells = [sample_cell(f"e{i}", [100.0, 100.0 * (1 + c / 100)], rounds=[0, 1])
             for i, c in enumerate(changes_pct)]
    return [sample_run("r", cells)]


def test_floor_is_q3_plus_three_iqr() -> None:
    floor = noise_floor("m", _round_pairs([1, 1, 1, 1, 2, 2, 2, 2]))
    # Q1 = 1, Q3 = 2 (numpy's linear percentiles), so the floor is 2 + 3 x 1 = 5
    assert (floor.q3, floor.iqr, floor.pct) == pytest.approx((2.0, 1.0, 5.0))
    assert floor.within_run == 8 and floor.across_runs == 0


def test_floor_never_goes_under_the_minimum() -> None:
    floor = noise_floor("m", _round_pairs([0.1] * 10))
    assert floor.pct == MIN_FLOOR_PCT and floor.q3 == pytest.approx(0.1)


def test_too_few_pairs_give_the_minimum_and_say_so() -> None:
    floor = noise_floor("m", _round_pairs([20, 20, 20]))
    assert floor.pct == MIN_FLOOR_PCT and floor.q3 is None
    assert "3 A/A pairs, 8 are needed" in floor.text


def test_other_machines_runs_are_left_out() -> None:
    other = [sample_run("x", r.cells, machine="other") for r in _round_pairs([9.0] * 10)]
    assert noise_floor("m", other).pairs == 0


def test_noise_command_prints_each_machine(tmp_path, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    for i, run in enumerate(_round_pairs([1, 1, 1, 1, 2, 2, 2, 2])):
        save_run(run, tmp_path / "m" / f"{i}.json")
    assert main(["noise", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "m " in out and "5.0" in out and "Q3 + 3 IQR" in out


def test_noise_command_saves_the_floor_beside_the_results(tmp_path) -> None:
    """--save DIR: one JSON record per machine with the figures, the rule and its runs."""
    for i, run in enumerate(_round_pairs([1, 1, 1, 1, 2, 2, 2, 2])):
        save_run(run, tmp_path / "results" / "m" / f"{i}.json")
    assert main(["noise", "--out", str(tmp_path / "results"),
                 "--save", str(tmp_path / "noise")]) == 0
    record = json.loads((tmp_path / "noise" / "m.json").read_text())
    assert record["machine"] == "m"
    assert (record["pct"], record["q3"], record["iqr"]) == pytest.approx((5.0, 2.0, 1.0))
    assert record["within_run"] == 8 and record["runs"] == 1 and record["latest_run"] == "r"
    assert record["rule"].startswith("max(3%, Q3 + 3 IQR") and "8 between rounds" in \
        record["text"]
    assert [p.name for p in (tmp_path / "noise").iterdir()] == ["m.json"]  # no temp left
