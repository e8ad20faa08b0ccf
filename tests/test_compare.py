"""`enginebench compare`: the verdict rules on fixed samples, the bootstrap's seed, cell
matching, the output formats and `--fail-above`'s exit codes."""

import csv
import io
import json
import random
import statistics
from pathlib import Path

import pytest
from synthetic_runs import sample_cell, sample_run

from enginebench.cli import main
from enginebench.report.compare_table import render_comparison
from enginebench.results.compare import bootstrap_ratio, compare, mann_whitney_p, verdict
from enginebench.results.schema import Point, Run
from enginebench.results.store import save_run

BASE = [98.0, 99.0, 100.0, 101.0, 102.0]
TEN_PCT_FASTER = [108.0, 109.0, 110.0, 111.0, 112.0]
NOISY = [100.0, 80.0, 120.0, 90.0, 110.0]
NOISY_SHIFTED = [105.0, 85.0, 125.0, 95.0, 115.0]


@pytest.mark.parametrize(("base", "new", "higher_better", "noise", "expected"), [
    (BASE, TEN_PCT_FASTER, True, 3.0, "faster"),
    (TEN_PCT_FASTER, BASE, True, 3.0, "slower"),
    (BASE, TEN_PCT_FASTER, False, 3.0, "slower"),  # a time that grew 10% is slower
    (BASE, TEN_PCT_FASTER, True, 15.0, "no change"),  # within the noise floor
    (BASE, BASE, True, 3.0, "no change"),
    (NOISY, NOISY_SHIFTED, True, 3.0, "no change"),  # the interval straddles 1
    (BASE[:2], TEN_PCT_FASTER, True, 3.0, "too few samples"),
    (BASE, TEN_PCT_FASTER[:2], True, 3.0, "too few samples"),
])
def test_verdict_rules(base: list[float], new: list[float], higher_better: bool,
                       noise: float, expected: str) -> None:
    ratio, ci, p, word = verdict(base, new, higher_better, noise, seed=0)
    assert word == expected
    assert ratio == pytest.approx(statistics.median(new) / statistics.median(base))
    if expected == "too few samples":
        assert ci is None and p is None
    else:
        assert ci is not None and ci[0] <= ratio <= ci[1] and 0 < p <= 1


def test_ratio_and_interval_of_a_clear_speedup() -> None:
    ratio, ci, p, _ = verdict(BASE, TEN_PCT_FASTER, True, 3.0, seed=0)
    assert ratio == pytest.approx(1.1)
    assert ci is not None and 1.05 < ci[0] <= 1.1 <= ci[1] < 1.15
    # 5 against 5, fully separated: the exact two-sided p is 2 / C(10, 5) = 2 / 252
    assert p == pytest.approx(2 / 252)


def test_mann_whitney_of_identical_samples_is_one() -> None:
    assert mann_whitney_p(BASE, BASE) == pytest.approx(1.0)


def test_bootstrap_is_reproducible_from_its_seed() -> None:
    rng = random.Random(3)
    base = [rng.uniform(90, 110) for _ in range(15)]
    new = [rng.uniform(95, 115) for _ in range(15)]
    assert bootstrap_ratio(base, new, seed=7) == bootstrap_ratio(base, new, seed=7)
    assert bootstrap_ratio(base, new, seed=7) != bootstrap_ratio(base, new, seed=8)


def _pair() -> tuple[Run, Run]:
    base = sample_run("base", [sample_cell("a", BASE, ttft=BASE),
                               sample_cell("b", BASE, rss=500.0), sample_cell("c", BASE),
                               sample_cell("gone", BASE)])
    new = sample_run("new", [sample_cell("a", BASE, ttft=TEN_PCT_FASTER),
                             sample_cell("b", TEN_PCT_FASTER, rss=600.0),
                             sample_cell("c", BASE, status="failed"),
                             sample_cell("added", BASE)], minutes=5)
    return base, new


def test_cells_are_matched_and_each_metric_judged() -> None:
    result = compare(*_pair())
    got = {(r.engine, r.metric): r.verdict for r in result.rows}
    assert got == {("a", "decode_tps"): "no change", ("a", "ttft_ms"): "slower",
                   ("a", "peak_rss_mb"): "no change",
                   ("b", "decode_tps"): "faster", ("b", "peak_rss_mb"): "larger",
                   ("c", "decode_tps"): "not comparable"}
    assert next(r.why for r in result.rows if r.engine == "c") == "base ok, new failed"
    assert result.unmatched_base == ["gone fp32 cpu small pp128 tg128 b1"]
    assert result.unmatched_new == ["added fp32 cpu small pp128 tg128 b1"]


def test_cells_of_another_model_or_point_do_not_match() -> None:
    base = sample_run("base", [sample_cell("a", BASE)])
    other_weights = sample_run("new", [sample_cell("a", BASE)], fingerprint="beef")
    assert compare(base, other_weights).rows == []
    deeper = sample_run("new", [sample_cell("a", BASE,
                                            point=Point(prompt_tokens=512, new_tokens=128))])
    assert compare(base, deeper).rows == []


def test_every_format_carries_the_verdicts_and_the_seed() -> None:
    result = compare(*_pair(), seed=11)
    doc = json.loads(render_comparison(result, "json") or "")
    assert doc["seed"] == 11 and doc["resamples"] == 2000 and "seed 11" in doc["rule"]
    assert [r["verdict"] for r in doc["rows"]] == [r.verdict for r in result.rows]
    rows = list(csv.DictReader(io.StringIO(render_comparison(result, "csv") or "")))
    assert len(rows) == len(result.rows) and rows[0]["base_run"] == "base"
    assert {r["verdict"] for r in rows} >= {"faster", "slower", "not comparable"}
    md = render_comparison(result, "md") or ""
    assert "| b | fp32 | cpu | small | pp128 tg128 b1 | decode tok/s |" in md
    assert "only in base (1): gone" in md


def _files(tmp_path: Path, base: Run, new: Run) -> tuple[Path, Path]:
    folder = tmp_path / "m"
    return save_run(base, folder / "base.json"), save_run(new, folder / "new.json")


@pytest.mark.parametrize(("pct", "code"), [(None, 0), (5.0, 1), (15.0, 0)])
def test_fail_above_exit_codes(tmp_path: Path, pct: float | None, code: int,
                               capsys: pytest.CaptureFixture[str]) -> None:
    base = sample_run("base", [sample_cell("a", TEN_PCT_FASTER)])
    new = sample_run("new", [sample_cell("a", BASE)], minutes=5)  # about 9% slower
    args = [str(p) for p in _files(tmp_path, base, new)] + ["--format", "csv", "--out",
                                                             str(tmp_path)]
    assert main(["compare", *args, *(["--fail-above", str(pct)] if pct else [])]) == code
    out = capsys.readouterr()
    assert "slower" in out.out
    assert ("slower by more than 5%: a fp32 cpu" in out.err) == (code == 1)


def test_machine_takes_its_last_two_runs_and_skips_a_bad_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "m"
    save_run(sample_run("old", [sample_cell("a", NOISY)]), folder / "old.json")
    save_run(sample_run("mid", [sample_cell("a", BASE)], minutes=1), folder / "mid.json")
    save_run(sample_run("last", [sample_cell("a", TEN_PCT_FASTER)], minutes=2),
             folder / "last.json")
    (tmp_path / "m" / "broken.json").write_text("{not json")
    assert main(["compare", "--machine", "m", "--out", str(tmp_path), "--format", "json"]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert (doc["base_run"], doc["new_run"]) == ("mid", "last")
    assert doc["rows"][0]["verdict"] == "faster"
    assert "skipped:" in out.err and "broken.json" in out.err


@pytest.mark.parametrize(("args", "message"), [
    (["one.json"], "compare takes two run files (BASE NEW), got 1"),
    (["--machine", "nobody"], "compare --machine nobody: 0 suite run(s)"),
    (["--noise-floor", "150", "a", "b"], "--noise-floor 150: a percentage from 0 to 100"),
])
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", *args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_runs_with_nothing_in_common_say_so(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    base = sample_run("base", [sample_cell("a", BASE)])
    new = sample_run("new", [sample_cell("b", BASE)], minutes=5)
    assert main(["compare", *map(str, _files(tmp_path, base, new)), "--out",
                 str(tmp_path)]) == 2
    assert "have no cell in common" in capsys.readouterr().err


def test_new_runs_are_compared_with_their_predecessors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--new DIR: each run there against the latest earlier run in --out of the same
    machine, model and points; one with none is said so; --fail-above covers them all."""
    out, new = tmp_path / "data", tmp_path / "tonight"
    save_run(sample_run("older", [sample_cell("a", BASE)]), out / "m" / "older.json")
    save_run(sample_run("last", [sample_cell("a", TEN_PCT_FASTER)], minutes=1),
             out / "m" / "last.json")
    save_run(sample_run("tiny-last", [sample_cell("a", BASE)], minutes=2, model="tiny"),
             out / "m" / "tiny-last.json")
    save_run(sample_run("tonight", [sample_cell("a", BASE)], minutes=10),
             new / "m" / "tonight.json")
    save_run(sample_run("first-of-x", [sample_cell("a", BASE)], minutes=10, model="x"),
             new / "m" / "x.json")
    code = main(["compare", "--new", str(new), "--out", str(out), "--format", "json",
                 "--noise-floor", "3", "--fail-above", "5"])
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert (doc["base_run"], doc["new_run"]) == ("last", "tonight")
    assert doc["rows"][0]["verdict"] == "slower" and code == 1
    assert "first-of-x (m, x): no earlier run of this model and workload" in captured.err
    assert main(["compare", "--new", str(tmp_path / "nothing"), "--out", str(out)]) == 2
