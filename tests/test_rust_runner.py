"""The Rust runner adapter: a runner that answers well gives an ok cell; one that crashes,
writes a malformed line or reports an error gives a failed (or unsupported) cell with
the runner's message, and the other cells are kept."""

from pathlib import Path

import fake_engines as fe
import pytest

from enginebench.engines.registry import engine_class, ops_class
from enginebench.engines.rust.runner import RUNNERS_ENV, binary_path
from enginebench.measure.suite import CellSpec, Suite
from enginebench.measure.workload import Workload
from enginebench.models.checkpoint import Checkpoint
from enginebench.results.store import load_run

WORKLOAD = Workload(prompt_tokens=16, new_tokens=8, warmups=1, reps=2, threads=1)
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def runners(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    fe.write_fake_runners(folder)
    monkeypatch.setenv("ENGINEBENCH_RUNNERS", str(folder))
    return folder


def test_runner_failures_become_cells_with_messages(runners: Path, tiny: Checkpoint,
                                                    tmp_path: Path) -> None:
    specs = [CellSpec(fe.RUNNER_ENGINES[mode], "f32") for mode in fe.RUNNER_MODES]
    suite = Suite(tiny, specs, WORKLOAD, "test-machine", tmp_path / "out", timeout_s=30)
    suite.run()
    by = {c.engine: c for c in load_run(suite.path).cells}

    ok = by["fakerunner-ok"]
    assert ok.status == "ok", ok.error
    assert ok.output_ids == list(range(8))
    assert len(ok.metrics.decode_tps.samples) == 2
    assert "fake runner" in ok.notes
    assert any("own peak RSS 12 MB" in n for n in ok.notes)

    crash = by["fakerunner-crash"]
    assert crash.status == "failed"
    assert "exited with code 7" in crash.error and "index out of bounds" in crash.error
    garbage = by["fakerunner-garbage"]
    assert garbage.status == "failed" and "malformed line: 'this is not JSON" in garbage.error
    error = by["fakerunner-error"]
    assert error.status == "failed" and "cannot run f32" in error.error
    unsupported = by["fakerunner-unsupported"]
    assert unsupported.status == "unsupported" and "cannot run f32" in unsupported.error


def test_logits_come_back_as_an_array(runners: Path, tiny: Checkpoint) -> None:
    engine = fe.RUNNER_ENGINES["ok"]()
    model = engine.load(tiny, tiny.path, "f32", "cpu", threads=1, context=32)
    assert engine.logits(model, [1, 2, 3]).shape == (3, 8)
    engine.close(model)


def test_missing_binary_is_not_available(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    monkeypatch.setenv("ENGINEBENCH_RUNNERS", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    cls = fe.RUNNER_ENGINES["ok"]
    assert not cls.available() and cls.version() is None


@pytest.mark.parametrize("name", ["candle", "burn"])
def test_a_runner_built_in_the_repo_is_found(name: str, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    """`make setup` builds the runners into runners/rust/bin; the adapter must find them
    there (a wrong path would silently skip every candle and burn test)."""
    monkeypatch.delenv(RUNNERS_ENV, raising=False)
    cls = engine_class(name)
    built = REPO / "runners" / "rust" / "bin" / cls.binary
    if not built.is_file():
        pytest.skip(f"{cls.binary} is not built here: {cls.install}")
    assert binary_path(cls.binary) in (built, built.resolve())
    assert cls.available() and ops_class(name).available()
