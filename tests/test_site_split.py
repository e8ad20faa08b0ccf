"""Rendering on two cores gives the same site as rendering in one process, and a failure
in the forked process fails the build."""

import filecmp
from datetime import datetime
from pathlib import Path

import pytest
from synthetic_runs import synthetic_run

from enginebench.errors import UserError
from enginebench.results.store import run_path, save_run
from enginebench.site import split
from enginebench.site.features import load_claims
from enginebench.site.pages import Renderer
from enginebench.site.records import load_results

ROOT = Path(__file__).resolve().parent.parent


def _render(data: Path, docs: Path) -> None:
    Renderer(ROOT / "templates", docs, load_results(data),
             load_claims(ROOT / "data" / "features.yaml")).render_all()


def _differences(a: Path, b: Path) -> list[str]:
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    # the build time is the one line that may differ
    return [str(f) for f in files if not filecmp.cmp(a / f, b / f, shallow=False)
            and f.name not in ("index.md",)]


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_split_rendering_writes_the_same_pages(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "data" / "results"
    for day in range(6):
        run = synthetic_run("m", datetime(2026, 1, 1 + day, 3), seed=day)
        save_run(run, run_path(results, run))
    _render(tmp_path / "data", tmp_path / "serial")
    monkeypatch.setattr(split, "MIN_RUN_PAGES", 2)
    monkeypatch.setattr(split.sys, "platform", "linux")
    assert split.can_split(6) or (__import__("os").cpu_count() or 1) < 2
    _render(tmp_path / "data", tmp_path / "split")
    assert len(list((tmp_path / "split" / "runs").glob("*.md"))) == 6 + 1  # and the index
    assert _differences(tmp_path / "serial", tmp_path / "split") == []


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_failure_in_the_forked_process_fails_the_build(capfd) -> None:
    def broken() -> None:
        raise RuntimeError("a template broke")

    with pytest.raises(UserError, match="second process"):
        split.run_split(broken, lambda: None)
    assert "a template broke" in capfd.readouterr().err
