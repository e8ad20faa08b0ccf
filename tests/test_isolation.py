"""Cells that crash, hang, raise or misreport become statuses; the others are kept."""

import json
from pathlib import Path

import fake_engines as fe
import pytest

from enginebench.measure.suite import CellSpec, Suite
from enginebench.measure.workload import Workload
from enginebench.models.checkpoint import Checkpoint
from enginebench.results.store import load_run

WORKLOAD = Workload(prompt_tokens=16, new_tokens=8, warmups=1, reps=3, threads=1)


def test_crash_hang_and_error_leave_other_results(tiny: Checkpoint, tmp_path: Path) -> None:
    specs = [
        CellSpec(fe.FakeEngine, "fp32"),
        CellSpec(fe.SegfaultEngine, "fp32"),
        CellSpec(fe.HangEngine, "fp32"),
        CellSpec(fe.RaiseEngine, "fp32"),
        CellSpec(fe.UnsupportedEngine, "int8"),
        CellSpec(fe.ShortEngine, "fp32"),
        CellSpec(fe.FakeEngine, "fp32", device="cuda"),
        CellSpec(fe.FakeEngine, "int8"),
    ]
    suite = Suite(tiny, specs, WORKLOAD, "test-machine", tmp_path, timeout_s=8)
    suite.run()
    run = load_run(suite.path)  # the file on disk, validated
    by = {(c.engine, c.precision, c.device): c for c in run.cells}
    assert len(run.cells) == len(specs)

    for key in [("fake", "fp32", "cpu"), ("fake", "int8", "cpu")]:
        ok = by[key]
        assert ok.status == "ok", ok.error
        assert ok.tokens_generated == 8
        assert ok.output_ids == list(range(8))
        assert ok.outputs_consistent is True
        assert len(ok.metrics.decode_tps.samples) == 3
        assert ok.metrics.decode_tps.median > 0
        assert ok.metrics.peak_rss_mb > 1

    seg = by[("segfault", "fp32", "cpu")]
    assert seg.status == "failed" and "SIGSEGV" in seg.error
    assert seg.metrics.peak_rss_mb > 1  # measured even though the process died
    hang = by[("hang", "fp32", "cpu")]
    assert hang.status == "timeout" and "8 s" in hang.error
    err = by[("raise", "fp32", "cpu")]
    assert err.status == "failed"
    assert err.error == "RuntimeError: weights are not in the expected layout"
    uns = by[("nobf16", "int8", "cpu")]
    assert uns.status == "unsupported" and "int8 is not supported" in uns.error
    short = by[("short", "fp32", "cpu")]
    assert short.status == "failed" and "expected exactly 8" in short.error
    cuda = by[("fake", "fp32", "cuda")]
    assert cuda.status == "unsupported" and "does not run on cuda" in cuda.error


def test_rounds_interleave_and_report_between_round_spread(tiny: Checkpoint,
                                                           tmp_path: Path) -> None:
    workload = Workload(prompt_tokens=16, new_tokens=8, warmups=0, reps=2, threads=1,
                        rounds=3)
    specs = [CellSpec(fe.FakeEngine, "fp32"), CellSpec(fe.RaiseEngine, "fp32")]
    order: list[tuple[str, int]] = []
    suite = Suite(tiny, specs, workload, "test-machine", tmp_path)
    suite.run(lambda spec, r, state: order.append((spec.engine.name, r))
              if state == "running" else None)
    # the failing cell is not retried; the good one runs once per round
    assert order == [("fake", 0), ("raise", 0), ("fake", 1), ("fake", 2)]
    assert load_run(suite.path).workload.order_seed is None  # the grid's order, every round
    cell = load_run(suite.path).cells[0]
    assert cell.rounds == 3
    assert len(cell.metrics.decode_tps.samples) == 6
    assert len(cell.metrics.decode_tps.round_medians) == 3
    assert cell.metrics.decode_tps.round_cv is not None


def test_run_file_is_saved_after_each_cell(tiny: Checkpoint, tmp_path: Path) -> None:
    seen: list[int] = []
    specs = [CellSpec(fe.FakeEngine, "fp32"), CellSpec(fe.FakeEngine, "int8")]
    suite = Suite(tiny, specs, WORKLOAD, "test-machine", tmp_path)

    def progress(spec: CellSpec, r: int, state: str) -> None:
        if state != "running":
            seen.append(len(json.loads(suite.path.read_text())["cells"]))

    suite.run(progress)
    assert seen == [1, 2]
    assert not list(suite.path.parent.glob(".*.tmp"))


def test_converted_artifact_is_cached(tiny: Checkpoint, tmp_path: Path) -> None:
    specs = [CellSpec(fe.ConvertingEngine, "fp32")]
    first = Suite(tiny, specs, WORKLOAD, "test-machine", tmp_path).run().cells[0]
    second = Suite(tiny, specs, WORKLOAD, "test-machine", tmp_path).run().cells[0]
    assert first.status == second.status == "ok"
    assert first.metrics.artifact_bytes == 1000
    assert first.metrics.artifact_cached is False and second.metrics.artifact_cached is True
    assert second.metrics.convert_s == first.metrics.convert_s
    assert second.metrics.prepare_s < first.metrics.prepare_s
    artifact = Path(first.notes[0].removeprefix("artifact="))
    assert len((artifact.parent / "conversions.txt").read_text().split()) == 1


def test_corrupt_or_truncated_artifact_is_rebuilt(tiny: Checkpoint, tmp_path: Path) -> None:
    specs = [CellSpec(fe.ConvertingEngine, "int8")]
    first = Suite(tiny, specs, WORKLOAD, "test-machine", tmp_path).run().cells[0]
    artifact = Path(first.notes[0].removeprefix("artifact="))
    conversions = artifact.parent / "conversions.txt"
    before = len(conversions.read_text().split())

    (artifact / "weights.bin").write_bytes(b"x" * 999)  # truncated
    second = Suite(tiny, specs, WORKLOAD, "test-machine", tmp_path).run().cells[0]
    assert second.status == "ok"
    assert any("999 bytes, 1000 when it was written" in n for n in second.notes)

    (artifact / "weights.bin").write_bytes(b"y" * 1000)  # same size, other bytes
    third = Suite(tiny, specs, WORKLOAD, "test-machine", tmp_path).run().cells[0]
    assert any("does not match the checksum" in n for n in third.notes)
    assert len(conversions.read_text().split()) == before + 2
    assert (artifact / "weights.bin").read_bytes() == b"x" * 1000


def test_compile_time_is_reported_apart(tiny: Checkpoint, tmp_path: Path) -> None:
    specs = [CellSpec(fe.CompilingEngine, "fp32"), CellSpec(fe.FakeEngine, "fp32")]
    jit, plain = Suite(tiny, specs, WORKLOAD, "test-machine", tmp_path).run().cells
    assert jit.metrics.compile_s == 1.5
    assert plain.metrics.compile_s is None


def test_peak_rss_is_not_the_parents_peak(tiny: Checkpoint, tmp_path: Path) -> None:
    """A cell's peak RSS is its own: neither the harness's earlier peak nor the memory the
    harness holds while the cell runs (a forked child shares it until it execs)."""
    import numpy as np

    ballast = np.ones(1 << 28)  # 2 GiB touched by the parent, then freed
    del ballast
    held = np.ones(1 << 27)  # 1 GiB the parent holds during the cell
    suite = Suite(tiny, [CellSpec(fe.FakeEngine, "fp32")], WORKLOAD, "test-machine", tmp_path)
    suite.run()
    assert held.sum() == 1 << 27
    assert load_run(suite.path).cells[0].metrics.peak_rss_mb < 512


def test_each_round_runs_in_its_seeded_order(tiny: Checkpoint, tmp_path: Path) -> None:
    """With an order seed, round r runs the cells in random.Random(f"{seed}/{r}")'s shuffle,
    recorded in the run; the document lists the cells in the grid's order."""
    import random

    specs = [CellSpec(fe.FakeEngine, "fp32"), CellSpec(fe.FakeEngine, "int8")]
    workload = Workload(prompt_tokens=(8, 9), new_tokens=4, warmups=0, reps=1, threads=1,
                        rounds=3, order_seed=1234)
    order: list[tuple[tuple[str, int], int]] = []
    suite = Suite(tiny, specs, workload, "test-machine", tmp_path)
    grid = [(s.precision, s.point.prompt_tokens) for s in suite.specs]
    assert len(grid) == 4
    suite.run(lambda spec, r, state: order.append(((spec.precision, spec.point.prompt_tokens),
                                                   r)) if state == "running" else None)
    expected = []
    for r in range(3):
        shuffled = list(grid)
        random.Random(f"1234/{r}").shuffle(shuffled)
        expected += [(cell, r) for cell in shuffled]
    assert order == expected
    assert len({tuple(c for c, r in order if r == k) for k in range(3)}) > 1  # not one order
    run = load_run(suite.path)
    assert run.workload.order_seed == 1234
    assert [(c.precision, run.point(c).prompt_tokens) for c in run.cells] == grid


@pytest.mark.parametrize(("reps", "measured"), [(5, 3), (2, 2)])
def test_a_cell_budget_stops_after_three_reps_and_says_so(tiny: Checkpoint, tmp_path: Path,
                                                         reps: int, measured: int) -> None:
    workload = Workload(prompt_tokens=8, new_tokens=4, warmups=0, reps=reps, threads=1,
                        budget_s=1e-9)
    cell = Suite(tiny, [CellSpec(fe.FakeEngine, "fp32")], workload, "test-machine",
                 tmp_path).run().cells[0]
    assert cell.status == "ok"
    assert cell.metrics.decode_tps is not None
    assert len(cell.metrics.decode_tps.samples) == measured
    said = [n for n in cell.notes if "cell budget" in n]
    assert said == ([f"measured 3 of {reps} reps: they took 0 s, past the cell budget of "
                     "1e-09 s (--cell-budget)"] if measured < reps else [])
    assert "--cell-budget 1e-09" in (cell.rerun or "")
