"""The feature matrix's verdicts from current evidence (a run on a small model never
outvotes a larger one; a later run of the same machine, model, device and precision
supersedes an earlier one), and the peak RSS footnote of a cell well above its weights
file (issue 20's glitches)."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from synthetic_runs import sample_cell, sample_run

from enginebench.engines.registry import engine_class
from enginebench.measure import memory
from enginebench.models.presets import PRESETS
from enginebench.report.peak_rss import PEAK_RSS_DEFINITION, peak_rss_notes
from enginebench.results.schema import Cell, Run
from enginebench.site.features import (
    Claim,
    Feature,
    FeatureClaims,
    build_matrix,
    load_claims,
)
from enginebench.site.tables import cell_table

ROOT = Path(__file__).parent.parent
SRC = "https://example.org/docs"
PARAMS = {"tiny": 1_000_000, "small": 58_466_816, "llama2-7b": 6_738_415_616}


def _cell(engine: str, precision: str, pclass: str, status: str = "ok",
          error: str | None = None) -> Cell:
    cell = sample_cell(engine, [10.0, 11.0, 12.0], status=status)
    cell.precision, cell.precision_class = precision, pclass
    if error is not None:
        cell.error = error
    return cell


def _run(run_id: str, cells: list[Cell], minutes: int, model: str,
         machine: str = "m") -> Run:
    run = sample_run(run_id, cells, minutes=minutes, model=model, machine=machine)
    run.model["params"] = PARAMS[model]
    return run


def _claims(**by_engine: dict[str, str]) -> FeatureClaims:
    return FeatureClaims(
        features=[Feature(id=f, label=f) for f in ("inference", "cpu", "int8", "fp16")],
        claims={e: {f: Claim(claim=c, source=SRC) for f, c in by.items()}
                for e, by in by_engine.items()})


def _burn_q8_runs() -> list[Run]:
    """burn q8 worked on `tiny` (the newest run) but timed out on `small` and on the 7B:
    the shape of the shipped data."""
    return [_run("small-run", [_cell("burn", "f32", "fp32"),
                               _cell("burn", "q8", "int8", "timeout")], 0, "small"),
            _run("7b-run", [_cell("burn", "q8", "int8", "timeout")], 10, "llama2-7b",
                 machine="m2"),
            _run("tiny-run", [_cell("burn", "q8", "int8")], 20, "tiny")]


def test_a_tiny_run_does_not_verify_what_failed_on_a_larger_model() -> None:
    matrix = build_matrix(_claims(burn={"int8": "partial"}), _burn_q8_runs())
    cell = matrix.cells[("burn", "int8")]
    assert cell.verdict == "partial"
    assert cell.working is not None and cell.working.model == "tiny"
    # the failure named is the one on the largest model, and it is what the page links first
    assert cell.shown is cell.failing
    assert cell.failing is not None and cell.failing.model == "llama2-7b"
    assert cell.failing.cell.status == "timeout"
    assert {e.model for e in cell.evidence} == {"tiny", "small", "llama2-7b"}
    # a timed-out int8 cell says nothing against plain inference
    assert matrix.cells[("burn", "inference")].verdict == "verified"


def test_a_later_run_of_the_same_model_supersedes_an_earlier_one() -> None:
    ok_then_timeout = [_run("a", [_cell("burn", "q8", "int8")], 0, "small"),
                       _run("b", [_cell("burn", "q8", "int8", "timeout")], 5, "small")]
    cell = build_matrix(_claims(), ok_then_timeout).cells[("burn", "int8")]
    assert cell.verdict == "failed"
    assert [e.run.run_id for e in cell.evidence] == ["b"]
    assert [e.run.run_id for e in cell.superseded] == ["a"]
    timeout_then_ok = [_run("a", [_cell("burn", "q8", "int8", "timeout")], 0, "small"),
                       _run("b", [_cell("burn", "q8", "int8")], 5, "small")]
    cell = build_matrix(_claims(), timeout_then_ok).cells[("burn", "int8")]
    assert cell.verdict == "verified" and cell.shown is not None and cell.shown.run.run_id == "b"
    # another machine does not supersede: the same model working there and failing here
    elsewhere = [*ok_then_timeout, _run("c", [_cell("burn", "q8", "int8")], 9, "small",
                                        machine="m2")]
    assert build_matrix(_claims(), elsewhere).cells[("burn", "int8")].verdict == "partial"


def test_a_claim_of_unsupported_against_a_working_run_is_still_contradicted() -> None:
    matrix = build_matrix(_claims(burn={"int8": "unsupported"}), _burn_q8_runs())
    assert matrix.cells[("burn", "int8")].verdict == "contradicted"


def test_a_cell_refused_for_memory_is_no_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusal's own message (measure/memory.py) is recognised: the 7B cell that did
    not fit leaves int8 verified by the run that did."""
    monkeypatch.setattr(memory, "machine_bytes", lambda: 1 << 30)
    ckpt = SimpleNamespace(params=PARAMS["llama2-7b"], config=PRESETS["small"].config())
    refusal = memory.refusal(engine_class("torch"), ckpt, "int8", 256,  # type: ignore[arg-type]
                             needs_conversion=False)
    assert refusal is not None
    runs = [_run("small", [_cell("torch", "int8", "int8")], 0, "small"),
            _run("7b", [_cell("torch", "int8", "int8", "unsupported", refusal)], 5,
                 "llama2-7b")]
    cell = build_matrix(_claims(), runs).cells[("torch", "int8")]
    assert cell.verdict == "verified" and [e.model for e in cell.evidence] == ["small"]


def test_features_page_names_both_pieces_of_evidence(tmp_path: Path) -> None:
    from enginebench.site.mkdocs_hook import sidecar
    from enginebench.site.pages import Renderer
    from enginebench.site.records import Results

    docs = tmp_path / "docs"
    Renderer(ROOT / "templates", docs, Results(runs=_burn_q8_runs()),
             load_claims(ROOT / "data" / "features.yaml")).render_all()
    page = (docs / "features.md").read_text()
    assert "**partial**" in page and "latest" in page  # the rule is stated
    html = "".join(json.loads(sidecar(docs, "features.md").read_text()))
    burn = html.split("<tr><th>8-bit quantization</th>", 1)[1].split("</tr>", 1)[0]
    assert 'eb-partial' in burn
    assert "ok: q8 · tiny" in burn and "timeout: q8 · llama2-7b" in burn
    assert "runs/tiny-run.html" in burn and "runs/7b-run.html" in burn


# ---- peak RSS ------------------------------------------------------------------------------

REPACK = {"system_info": "CPU : AVX2 = 1 | AVX512 = 1 | OPENMP = 1 | REPACK = 1 |"}


def _rss_cell(engine: str, precision: str, rss: float, file_bytes: int | None,
              build: dict | None = None, status: str = "ok") -> Cell:
    cell = sample_cell(engine, [5.0, 5.1, 5.2], rss=rss, status=status)
    cell.precision, cell.build = precision, build or {}
    cell.metrics.artifact_bytes = file_bytes
    if status != "ok":
        cell.metrics.peak_rss_mb = rss
    return cell


def test_a_7b_q4_0_cell_explains_its_peak_rss_twice_the_file() -> None:
    """The shipped llama2-7b q4_0 cell: 7,301 MiB peak for a 3.83 GB GGUF."""
    cell = _rss_cell("llamacpp", "q4_0", 7301.1, 3_825_823_520, REPACK)
    (note,) = peak_rss_notes(cell)
    assert "7,301 MiB is 2.0x the 3,649 MiB weights file" in note
    assert "REPACK" in note and "count twice" in note
    assert "Not in it: conversion, the fp32 reference, the quality pass" in note
    table = cell_table([cell, _rss_cell("llamacpp", "q8_0", 7047.2, 7_161_106_208, REPACK)])
    assert [n for n in table.notes if "peak RSS" in n] == [f"llamacpp q4_0: {note}"]
    assert table.rows[0].notes and not table.rows[1].notes


def test_peak_rss_note_only_where_well_above_a_recorded_file() -> None:
    generic = _rss_cell("candle", "f16", 23387.4, 13_476_864_720)
    (note,) = peak_rss_notes(generic)
    assert "1.8x" in note and "REPACK" not in note and "mapped or read" in note
    assert not peak_rss_notes(_rss_cell("llamacpp", "q4_0", 7301.1, None, REPACK))
    # a small model under a 1-2 GB runtime: above the file, but by less than 2 GiB
    assert not peak_rss_notes(_rss_cell("torch", "fp32", 1873.0, 233_875_520))
    # a cell that did not run shows no peak RSS, so nothing to explain
    assert not peak_rss_notes(_rss_cell("burn", "q8", 9000.0, 233_875_520, status="timeout"))
    # repacked without REPACK in the build: the general text
    (plain,) = peak_rss_notes(_rss_cell("llamacpp", "q4_0", 7301.1, 3_825_823_520))
    assert "REPACK" not in plain
    assert "mapped or read" in PEAK_RSS_DEFINITION and "MiB" in PEAK_RSS_DEFINITION
