"""The nightly on the asv suite: a profile named by ENGINEBENCH_ASV_PROFILE is asv's grid,
one measurement by `enginebench run`'s own code gives asv's figures and the full run
documents, the workload labels carry batch and rounds both ways, and the site shows the run
document rather than asv's copy of the same measurement."""

from pathlib import Path

import pytest
from synthetic_runs import asv_results_file

from enginebench.measure import asv
from enginebench.measure.workload import Point, Workload
from enginebench.results.asv_import import ASV_COMMAND, _workload, asv_file_runs
from enginebench.results.store import list_runs, load_run
from enginebench.site.records import load_results

PROFILE = """\
description: a test profile
models: [tiny]
engines: [torch]
precisions: [fp32]
prompt_tokens: 16
new_tokens: 8
warmups: 0
reps: 1
rounds: 3
roofline: off
threads: 1
sweeps:
  - name: depth
    description: two prompt lengths
    prompt_tokens: [16, 32]
"""


@pytest.fixture
def profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "profile"
    folder.mkdir()
    (folder / "profile.yaml").write_text(PROFILE)
    monkeypatch.setenv(asv.PROFILE_ENV, str(folder))
    monkeypatch.setenv(asv.OUT_ENV, str(tmp_path / "out"))
    return folder


@pytest.mark.parametrize(("workload", "point", "label"), [
    (Workload(threads=2), Point(), "pp128 tg128 w1 r5 t2"),  # the committed results' form
    (Workload(reps=2, rounds=3, threads=2), Point(512, 128, 4), "pp512 tg128 b4 w1 r2 x3 t2"),
    (Workload(warmups=0, reps=1, threads=1), Point(16, 8, 1), "pp16 tg8 w0 r1 t1"),
])
def test_workload_labels_read_back(workload: Workload, point: Point, label: str) -> None:
    assert asv.workload_label(workload, point) == label
    back = _workload(label)
    assert (back.prompt_tokens, back.new_tokens, back.batch) == \
        (point.prompt_tokens, point.new_tokens, point.batch)
    assert (back.warmups, back.reps, back.rounds, back.threads) == \
        (workload.warmups, workload.reps, workload.rounds, workload.threads)


def test_a_profile_is_the_grid(profile: Path) -> None:
    """The profile's engines and precisions, its models, and every point of its grid and
    sweeps (the grid's pp16 once)."""
    assert asv.run_commands() == [["--profile", str(profile)]]
    assert asv.model_params() == [["torch fp32"], ["tiny"],
                                  ["pp16 tg8 w0 r1 x3 t1", "pp32 tg8 w0 r1 x3 t1"]]


def test_without_a_profile_every_engine_on_the_models(monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    monkeypatch.delenv(asv.PROFILE_ENV, raising=False)
    assert asv.run_commands() == [["--model", m, "--precisions", "all", "--threads",
                                   str(asv.THREADS)] for m in asv.MODELS]


def test_one_measurement_gives_both(profile: Path, tiny, tmp_path: Path) -> None:
    """`setup_cache` runs the profile through `enginebench run`'s code: its run documents
    (raw samples from 3 rounds, quality) land in ENGINEBENCH_ASV_OUT, asv's figures are
    their medians, and the site shows the documents, not asv's copy."""
    figures = asv.run_model_cells()
    docs = sorted((load_run(p) for p in list_runs(tmp_path / "out")),
                  key=lambda d: d.created_at)
    assert len(docs) == 2  # the grid, then the sweep
    assert all(d.command.startswith(ASV_COMMAND) for d in docs)
    assert all(d.workload.rounds == 3 and d.workload.order_seed is not None for d in docs)
    assert set(figures) == {("torch fp32", "tiny", "pp16 tg8 w0 r1 x3 t1"),
                            ("torch fp32", "tiny", "pp32 tg8 w0 r1 x3 t1")}
    grid = docs[0].cells[0]
    assert grid.status == "ok" and grid.rounds == 3 and grid.quality is not None
    assert len(grid.metrics.decode_tps.samples) == 3  # one rep from each of 3 processes
    pp16 = figures[("torch fp32", "tiny", "pp16 tg8 w0 r1 x3 t1")]
    assert pp16["decode_tps"] == grid.metrics.decode_tps.median  # the grid's, not the sweep's
    assert pp16["peak_rss_mb"] == grid.metrics.peak_rss_mb

    # asv's results file of the same measurement (the commit the documents record)
    commit = docs[0].environment["suite"]["commit"] or "0" * 40
    data = tmp_path / "data"
    machine = docs[0].machine.label
    asv_path = asv_results_file(figures, asv.model_params(), data / "asv" / "results" / machine,
                         commit)
    assert {r.run_id for r in asv_file_runs(asv_path)}  # readable on its own
    (data / "results").mkdir(parents=True)
    (tmp_path / "out" / machine).rename(data / "results" / machine)
    shown = load_results(data)
    if docs[0].environment["suite"]["commit"]:  # a checkout: the twins are recognised
        assert sorted(r.run_id for r in shown.runs) == sorted(d.run_id for d in docs)
    assert shown.skipped == []


def test_asv_runs_without_documents_are_shown(tmp_path: Path) -> None:
    """An `asv run` by hand (no run documents committed) still appears on the site."""
    figures = {("torch fp32", "tiny", "pp16 tg8 w0 r1 t1"):
               {"decode_tps": 60.0, "prefill_tps": 900.0, "ttft_ms": 14.0,
                "peak_rss_mb": 400.0}}
    params = [["torch fp32"], ["tiny"], ["pp16 tg8 w0 r1 t1"]]
    asv_results_file(figures, params, tmp_path / "data" / "asv" / "results" / "cpu-x", "b" * 40)
    (tmp_path / "data" / "results").mkdir(parents=True)
    [run] = load_results(tmp_path / "data").runs
    assert run.cells[0].metrics.decode_tps.median == 60.0
