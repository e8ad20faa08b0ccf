"""Adding an engine is one module plus one registry row: a module written as the README says
(tests/newcomer_engine.py), registered at test time with one row and no other file touched,
shows up in `enginebench list`, in a run document and an ops document, in the asv grid and
on the built site."""

import importlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from enginebench.cli import main
from enginebench.engines import registry
from enginebench.measure import asv
from enginebench.models.checkpoint import Checkpoint
from enginebench.site.build import build_site

ROOT = Path(__file__).resolve().parent.parent
ROW = registry.Row("newcomer_engine:NewcomerEngine", "newcomer_engine:NewcomerOps")


@pytest.fixture
def newcomer() -> Iterator[None]:
    """The one row; afterwards the registry and the asv modules read from it are as before."""
    registry.ENGINES["newcomer"] = ROW
    try:
        yield
    finally:
        del registry.ENGINES["newcomer"]
        for name in ("benchmarks.engines", "benchmarks.operators"):
            importlib.reload(importlib.import_module(name))


def test_a_registered_engine_is_everywhere(newcomer: None, tiny: Checkpoint, tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    # the CLI lists it, with both faces
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    assert "newcomer" in listed and "f32 (fp32), q8 (int8)" in listed

    # a run of it is a run document with its cells, measured by the harness
    results = tmp_path / "data" / "results"
    assert main(["run", "--engines", "newcomer", "--precisions", "all", "--model", "tiny",
                 "--new-tokens", "8", "--prompt-tokens", "8", "--reps", "2", "--quality", "off",
                 "--roofline", "off", "--machine", "cpu-newcomer", "--out", str(results),
                 "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    cells = {(c["engine"], c["precision"]): c for c in doc["cells"]}
    assert set(cells) == {("newcomer", "f32"), ("newcomer", "q8")}
    assert all(c["status"] == "ok" and c["tokens_generated"] == 8 for c in cells.values())
    assert cells[("newcomer", "q8")]["precision_class"] == "int8"
    # 7 gaps of 5 ms after the first token: 200 tok/s
    assert cells[("newcomer", "f32")]["metrics"]["decode_tps"]["median"] == \
        pytest.approx(200, rel=1e-6)

    # its op face runs in `enginebench ops`, under its model face's name
    assert main(["ops", "--engines", "newcomer", "--model", "tiny", "--ops", "rmsnorm",
                 "--reps", "2", "--min-sample-ms", "1", "--machine", "cpu-newcomer",
                 "--out", str(results), "--format", "json"]) == 0
    ops = json.loads(capsys.readouterr().out)
    assert {(r["engine"], r["case"], r["status"]) for r in ops["results"]} >= \
        {("newcomer", "rmsnorm", "ok")}

    # asv's grid is read from the registry: both benchmark classes have it
    engines = importlib.reload(importlib.import_module("benchmarks.engines"))
    operators = importlib.reload(importlib.import_module("benchmarks.operators"))
    assert {"newcomer f32 (fp32)", "newcomer q8 (int8)"} <= set(engines.Engines.params[0])
    assert "newcomer" in operators.Operators.params[0]
    assert asv.model_params() == engines.Engines.params

    # the site shows its cells and its column in the feature matrix
    shutil.copy(ROOT / "data" / "features.yaml", tmp_path / "data" / "features.yaml")
    build_site(ROOT, tmp_path / "data", tmp_path / "out", docs=tmp_path / "docs")
    run_page = (tmp_path / "out" / "runs" / f"{doc['run_id']}.html").read_text()
    assert "newcomer" in run_page and "q8" in run_page
    assert "newcomer" in (tmp_path / "out" / "features.html").read_text()
    assert "newcomer" in (tmp_path / "out" / "ops" / "cpu-newcomer.html").read_text()


def test_without_its_row_it_is_nowhere() -> None:
    """The test above is not vacuous: unregistered, the same engine is unknown."""
    assert "newcomer" not in registry.model_engines()
    assert not any(c.startswith("newcomer ") for c in asv.model_params()[0])
    with pytest.raises(Exception, match="unknown engine 'newcomer'"):
        registry.engine_class("newcomer")
