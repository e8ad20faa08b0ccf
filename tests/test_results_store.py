"""The run document: round trip, atomic writes, and one-line errors for bad files."""

import json
from pathlib import Path

import fake_engines as fe
import pytest

from enginebench.errors import UserError
from enginebench.measure.suite import CellSpec, Suite
from enginebench.measure.workload import Workload
from enginebench.models.checkpoint import Checkpoint
from enginebench.results.store import load_run, save_run


@pytest.fixture(scope="module")
def run_file(tiny: Checkpoint, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("results")
    suite = Suite(tiny, [CellSpec(fe.FakeEngine, "fp32")],
                  Workload(prompt_tokens=8, new_tokens=4, warmups=0, reps=2), "m", out)
    suite.run()
    return suite.path


def test_document_has_the_contract_names(run_file: Path) -> None:
    doc = json.loads(run_file.read_text())
    assert doc["schema_version"] == 1
    for key in ("run_id", "created_at", "machine", "environment", "model", "workload", "cells"):
        assert key in doc
    assert {"name", "params", "path_hash"} <= set(doc["model"])
    assert {"prompt_tokens", "new_tokens", "warmups", "reps", "threads"} <= set(doc["workload"])
    assert len(doc["workload"]["prompt_ids"]) == 8
    cell = doc["cells"][0]
    for key in ("engine", "engine_version", "precision", "precision_class", "device", "status",
                "error", "tokens_generated", "output_ids", "metrics"):
        assert key in cell
    for key in ("prefill_tps", "decode_tps", "ttft_ms", "itl_ms", "peak_rss_mb", "load_s",
                "convert_s", "artifact_bytes"):
        assert key in cell["metrics"]
    assert set(cell["metrics"]["decode_tps"]) >= {"median", "mean", "sd", "ci95", "cv",
                                                   "samples"}
    assert set(cell["metrics"]["itl_ms"]) == {"p50", "p90", "p99"}
    env = doc["environment"]
    assert env["python"] and env["os"] and "cpu_flags" in env and "suite" in env
    assert doc["machine"]["label"] == "m" and doc["machine"]["cpu"]
    run = load_run(run_file)  # a finished run records its end, so its wall time is data
    assert run.finished_at is not None and run.wall_s is not None and run.wall_s >= 0


def test_round_trip(run_file: Path, tmp_path: Path) -> None:
    run = load_run(run_file)
    copy = save_run(run, tmp_path / "copy.json")
    assert load_run(copy) == run


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["cells"][0].update(status="great"), "field cells.0.status"),
    (lambda d: d["cells"][0]["metrics"]["decode_tps"].pop("median"),
     "field cells.0.metrics.decode_tps.median"),
    (lambda d: d.update(schema_version=99), "field schema_version: 99 is not supported"),
    (lambda d: d.pop("machine"), "field machine: Field required"),
    (lambda d: d["workload"].update(reps="five"), "field workload.reps"),
])
def test_malformed_file_gives_one_clear_line(run_file: Path, tmp_path: Path, mutate,
                                             message: str) -> None:
    doc = json.loads(run_file.read_text())
    mutate(doc)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(UserError) as err:
        load_run(bad)
    text = str(err.value)
    assert text.startswith(f"{bad}: ") and message in text
    assert "\n" not in text


def test_truncated_file(run_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "cut.json"
    bad.write_text(run_file.read_text()[:200])
    with pytest.raises(UserError, match=r"cut\.json: not valid JSON"):
        load_run(bad)
