"""Output a terminal or a spreadsheet would execute, and results folders with things in
them that are not results files: `show` prints names with escape sequences and rich markup
as inert text, CSV cells are no formulas, and a directory, FIFO, link loop or deep JSON
named `*.json` is one line for `show` and one listed file for the site. Page names."""

import csv
import io
import json
import math
import os
import signal
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from synthetic_runs import synthetic_ops_run, synthetic_run

from enginebench.cli import main
from enginebench.report import safe
from enginebench.report.table import COLUMNS, render
from enginebench.results.schema import Run
from enginebench.results.store import run_path, save_run
from enginebench.site import charts
from enginebench.site.features import load_claims
from enginebench.site.mkdocs_hook import sidecar
from enginebench.site.pages import Renderer
from enginebench.site.records import load_results, slug

ROOT = Path(__file__).resolve().parent.parent
# clear screen, window title, 8-bit CSI, a bidi override, a bell; rich markup that crashes
# (`[/]` closes nothing) or styles
HOSTILE = "x\x1b[2J\x1b]0;owned\x07\x9b31m\u202e[/][bold]y"
SHOWN = "x[2J]0;owned31m[/][bold]y"  # what is left: plain text
CONTROL = ("\x1b", "\x07", "\x9b", "\u202e")
FORMATS = ("table", "md", "csv")


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    """A test that would block (opening a FIFO waits for a writer) fails instead."""
    def stop(*_: object) -> None:
        raise TimeoutError("blocked: a FIFO was opened")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def hostile_run() -> Run:
    """A run whose model name, engine, version, error, quality error and note carry escape
    sequences and markup (the machine label is validated by the schema)."""
    run = synthetic_run("synthetic-h", datetime(2026, 1, 1, 3), seed=7, model=HOSTILE)
    failed = next(c for c in run.cells if c.status == "failed")
    failed.error = f"crashed: {HOSTILE}"
    ok = next(c for c in run.cells if c.status == "ok")
    ok.engine, ok.engine_version, ok.implausible = HOSTILE, HOSTILE, HOSTILE
    ok.notes = [HOSTILE]
    run.command = f"enginebench run {HOSTILE}"
    return run


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # rich tables unwrapped, to find the names in them


def _show(path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["show", str(path), "--format", fmt]) == 0
    out, err = capsys.readouterr()
    for text in (out, err):
        assert not any(c in text for c in CONTROL), repr(text[:300])
    return out


def _markup(fmt: str) -> str:
    """The markup as the format writes it as text (markdown escapes its brackets)."""
    return safe.md("[/][bold]") if fmt == "md" else "[/][bold]"


@pytest.mark.parametrize("fmt", FORMATS)
def test_show_prints_hostile_names_as_text(fmt: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = save_run(hostile_run(), tmp_path / "run.json")
    out = _show(path, fmt, capsys)
    assert (safe.md(SHOWN) if fmt == "md" else SHOWN) in out  # markup shown, not read


@pytest.mark.parametrize("fmt", FORMATS)
def test_show_ops_run_with_hostile_names(fmt: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    ops = synthetic_ops_run("synthetic-h", datetime(2026, 1, 1, 4), seed=3,
                            versions={"torch": HOSTILE})
    ops.model = {"name": HOSTILE}
    next(r for r in ops.results if r.status == "failed").error = HOSTILE
    out = _show(save_run(ops, tmp_path / "ops.json"), fmt, capsys)
    assert _markup(fmt) in out


@pytest.mark.parametrize("fmt", FORMATS)
def test_machine_label_is_inert_too(fmt: str) -> None:
    """The schema refuses such a label in a file; the report escapes it all the same."""
    run = hostile_run()
    run.machine = run.machine.model_copy(update={"label": HOSTILE})
    from rich.console import Console

    console = Console(file=io.StringIO(), width=200)
    text = render(run, fmt, console) or console.file.getvalue()
    assert not any(c in text for c in CONTROL) and _markup(fmt) in text


def test_json_is_the_same_document_and_printable(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    run = hostile_run()
    out = _show(save_run(run, tmp_path / "run.json"), "json", capsys)
    assert json.loads(out)["model"]["name"] == HOSTILE  # escaped, not changed


def test_markdown_cells_stay_in_their_columns(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    run = hostile_run()
    run.cells[0].error, run.cells[0].status = "a | b | c <script>x</script> [x](y)", "failed"
    out = _show(save_run(run, tmp_path / "run.json"), "md", capsys)
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(run.cells)
    for line in table:  # unescaped pipes only between the columns
        assert line.replace("\\\\", "").replace("\\|", "").count("|") == len(COLUMNS) + 1
    assert "<script>" not in out and "\\[x\\](y)" in out


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_csv_cells_are_no_formulas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = hostile_run()
    run.model["name"] = "=HYPERLINK(\"http://x\",\"y\")"
    cells = [c for c in run.cells if c.status == "ok"][:4]
    for cell, text in zip(cells, ("+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1"),
                          strict=True):
        cell.engine_version = text
    cells[0].quality.kl_mean = -1e-12  # a real negative number stays a number
    out = _show(save_run(run, tmp_path / "run.json"), "csv", capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(run.cells)
    for row in rows:
        for value in row.values():
            assert _number(value) or not value.startswith(safe.FORMULA_START), value
    assert rows[0]["model"].startswith("'=HYPERLINK")
    versions = {r["engine_version"] for r in rows}
    assert {"'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(A1)", "' =1"} <= versions
    first = next(r for r in rows if r["engine_version"] == "'+cmd|' /C calc'!A0")
    assert float(first["kl_mean"]) == -1e-12


def test_safe_helpers() -> None:
    assert safe.plain("a\tb\nc\x1b[0m\x7f\x85d") == "a b c[0md"
    assert str(safe.term("[/]")) == "[/]"
    assert safe.csv_cell(-3.5) == -3.5 and safe.csv_cell(-3) == -3
    assert safe.csv_cell(None) == "" and safe.csv_cell("ok") == "ok"
    assert safe.csv_cell("-3") == "'-3" and safe.csv_cell(" =1") == "' =1"
    assert safe.csv_cell("\r=1") == "' =1"
    assert safe.md("a|b\\") == "a\\|b\\\\"
    assert json.loads(safe.json_text(json.dumps("\x9b\u202e", ensure_ascii=False))) == \
        "\x9b\u202e"


# things named *.json under data/results/<machine>/ that are not results files


def _plant(folder: Path, kind: str) -> Path:
    path = folder / f"{kind}.json"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "loop":
        path.symlink_to(path.name)  # a link to itself
    elif kind == "deep":
        path.write_text("[" * 200_000 + "]" * 200_000)
    elif kind == "deep-field":  # a valid run but for 500 levels of nesting in a free field
        doc = json.loads(synthetic_run("synthetic-h", datetime(2026, 1, 2), 1).model_dump_json())
        doc["environment"]["x"] = json.loads("[" * 500 + "]" * 500)
        path.write_text(json.dumps(doc))
    return path


KINDS = ("directory", "fifo", "loop", "deep", "deep-field")


@pytest.mark.parametrize("kind", KINDS)
def test_show_refuses_with_one_line(kind: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = _plant(tmp_path, kind)
    assert main(["show", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"error: {path}: ") and err.count("\n") == 1, err


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data folder with one good run, and every bad kind beside it (and in asv's)."""
    results = tmp_path / "data" / "results"
    good = synthetic_run("synthetic-h", datetime(2026, 1, 1, 3), seed=1)
    save_run(good, run_path(results, good))
    for kind in KINDS:
        _plant(results / "synthetic-h", kind)
    asv = tmp_path / "data" / "asv" / "results" / "synthetic-h"
    asv.mkdir(parents=True)
    for kind in ("directory", "fifo", "loop", "deep"):
        _plant(asv, kind)
    return tmp_path / "data"


def test_site_lists_them_and_goes_on(data: Path) -> None:
    results = load_results(data)
    assert len(results.runs) == 1
    reasons = {str(s.path.relative_to(data)): s.reason for s in results.skipped}
    assert sorted(reasons) == sorted([f"results/synthetic-h/{k}.json" for k in KINDS] + [
        f"asv/results/synthetic-h/{k}.json" for k in ("directory", "fifo", "loop", "deep")])
    for s in results.skipped:
        assert "\n" not in s.reason and s.reason.startswith(str(s.path))
    for folder in ("results", "asv/results"):
        def why(kind: str, folder: str = folder) -> str:
            return reasons[f"{folder}/synthetic-h/{kind}.json"]
        assert "not a regular file" in why("directory") and "not a regular file" in why("fifo")
        assert "symbolic links" in why("loop") and "nested too deeply" in why("deep")
    assert "nested too deeply" in reasons["results/synthetic-h/deep-field.json"]


# page names


def test_slug_is_a_safe_distinct_page_name() -> None:
    assert slug("20260101T030000Z-00000a") == "20260101T030000Z-00000a"  # kept as it is
    names = [".hidden", "..", "index", "README", "a b", "a-b", "a/b", "-x", "x" * 300,
             "日本", ""]
    pages = [slug(n) for n in names]
    assert len(set(pages)) == len(pages)
    for page in pages:
        assert page and not page.startswith((".", "-")) and "/" not in page
        assert page.lower() not in ("index", "readme") and len(page) < 100


def _render(data: Path, tmp_path: Path) -> tuple[Path, object]:
    results = load_results(data)
    docs = tmp_path / "docs"
    Renderer(ROOT / "templates", docs, results,
             load_claims(ROOT / "data" / "features.yaml")).render_all()
    return docs, results


def test_dot_run_id_gets_its_page_and_duplicates_are_listed(tmp_path: Path) -> None:
    results = tmp_path / "data" / "results"
    dotted = synthetic_run("synthetic-h", datetime(2026, 1, 1, 3), seed=1)
    dotted.run_id = ".hidden"
    save_run(dotted, results / "synthetic-h" / "a.json")
    index = synthetic_run("synthetic-h", datetime(2026, 1, 2, 3), seed=2)
    index.run_id = "index"  # the name of the runs index page
    save_run(index, results / "synthetic-h" / "b.json")
    twin = synthetic_run("synthetic-h", datetime(2026, 1, 3, 3), seed=3)
    save_run(twin, results / "synthetic-h" / "c.json")
    save_run(twin, results / "synthetic-h" / "d.json")  # a copy: one run, two files
    docs, loaded = _render(tmp_path / "data", tmp_path)
    assert [r.run_id for r in loaded.runs] == [".hidden", "index", twin.run_id]
    [dup] = loaded.skipped
    assert dup.path.name == "d.json" and "also in" in dup.reason and "c.json" in dup.reason
    listing = sidecar(docs, "runs/index.md").read_text()  # the table, as HTML
    for run in loaded.runs:
        page = slug(run.run_id)
        assert (docs / "runs" / f"{page}.md").is_file() and not page.startswith(".")
        assert f'href=\\"{page}.html\\"' in listing  # the listing, not overwritten by "index"


def test_asv_runs_of_two_machines_get_two_pages(tmp_path: Path) -> None:
    cols = ["result", "params", "version", "started_at", "duration"]
    params = [["'torch fp32'"], ["'tiny'"], ["'pp128 tg128 w1 r5 t2'"]]
    doc = {"version": 2, "commit_hash": "a" * 40, "date": 1_795_000_000_000,
           "params": {"cpu": "x", "num_cpu": "2", "ram": str(2**34), "arch": "x86_64"},
           "env_name": "existing", "python": "3.11", "result_columns": cols,
           "results": {"engines.Engines.track_decode_tps": [[60.0], params, "h", 0, 1.0]}}
    for machine in ("synthetic-a", "synthetic-b"):
        folder = tmp_path / "data" / "asv" / "results" / machine
        folder.mkdir(parents=True)
        (folder / "aaaaaaaa-existing.json").write_text(json.dumps(doc))
    (tmp_path / "data" / "results").mkdir()
    loaded = load_results(tmp_path / "data")
    assert not loaded.skipped and len({slug(r.run_id) for r in loaded.runs}) == 2


def test_chart_data_never_carries_nan() -> None:
    """One bare NaN in a chart's JSON stops every later chart of the page from drawing."""
    spec = charts.with_data({"mark": "point"}, points=[
        {"x": math.nan, "y": 1.5, "z": math.inf, "w": -math.inf, "name": "a"}])
    text = json.dumps(spec, allow_nan=False)  # raises on any non-finite number
    assert json.loads(text)["datasets"]["points"] == [
        {"x": None, "y": 1.5, "z": None, "w": None, "name": "a"}]
