"""The site: feature verdicts, best marks, a build from synthetic runs (escaping, links,
a corrupt file, a sweep at its headline point and on its Scaling page), and the built pages
in headless Chromium with no request leaving 127.0.0.1."""

import json
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from synthetic_runs import SWEEP_CELLS, synthetic_ops_run, synthetic_run, synthetic_sweep_run

from enginebench.cli import main
from enginebench.report.numbers import number
from enginebench.results.schema import Run
from enginebench.results.store import run_path, save_run
from enginebench.site.build import build_site, local_server
from enginebench.site.charts import pareto_front
from enginebench.site.features import Claim, Feature, FeatureClaims, build_matrix, load_claims
from enginebench.site.records import cell_key, slug
from enginebench.site.tables import cell_table

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = "<script>window.__enginebenchXss = 1</script>"
ESCAPED = "&lt;script&gt;window.__enginebenchXss = 1&lt;/script&gt;"
PAGES = ("index.html", "features.html", "trends/index.html", "trends/synthetic-a.html",
         "pareto/index.html", "pareto/synthetic-a.html", "ops/index.html", "ops/synthetic-a.html",
         "runs/index.html", "methodology.html", "scaling/index.html",
         "scaling/synthetic-b/small.html", "changes/index.html", "changes/synthetic-a.html")
SWEEP_MODEL = f"sweep{PAYLOAD}"  # machine c's sweep: markup in its model and a precision


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic machines, three nights each; the latest run of machine a carries markup
    in an engine version and an error message; a third machine's model, run id and
    command carry it too (a machine label is a safe name by the schema); one results file
    is corrupt. Machine b's latest run of `small` sweeps P 128, 512, 1920 x B 1, 4 (markup in
    an unsupported cell's reason); machine c also has a sweep of another model, P 128, 512 at
    B 1, with markup in its name and in a precision."""
    tmp = tmp_path_factory.mktemp("site")
    results = tmp / "data" / "results"
    for i, machine in enumerate(("synthetic-a", "synthetic-b")):
        for day in range(3):
            run = synthetic_run(machine, datetime(2026, 1, 1 + day, 3), seed=10 * i + day,
                                versions={"torch": f"2.{day}.0", **_step_version(day)})
            if machine == "synthetic-a":
                _step(run, day)
            save_run(run, run_path(results, run))
    hostile = synthetic_run("synthetic-a", datetime(2026, 1, 9, 3), seed=99,
                            versions={"torch": PAYLOAD, **_step_version(3)})
    _step(hostile, 3)
    failed = next(c for c in hostile.cells if c.status == "failed")
    failed.error = f"crashed: {PAYLOAD}"
    hostile.cells[0].rerun = f"enginebench run --engines {PAYLOAD}"
    # environment values as long as a real run's (every CPU flag, a build's JSON)
    hostile.environment["cpu_flags_all"] = [f"avx512_flag_{i}" for i in range(150)]
    hostile.environment["engines"]["llamacpp"]["build"] = {
        "system_info": "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 1 | " * 12}
    save_run(hostile, run_path(results, hostile))
    # markup where MkDocs takes a page title from (the first heading) and in file names
    marked = synthetic_run("synthetic-c", datetime(2026, 1, 3, 3), seed=98,
                           model=f"small{PAYLOAD}")
    marked.run_id, marked.command = f"run{PAYLOAD}", f"enginebench run {PAYLOAD}"
    save_run(marked, results / "synthetic-c" / "marked.json")
    sweep = synthetic_sweep_run("synthetic-b", datetime(2026, 1, 10, 3), seed=7,
                                versions={"onnxruntime": PAYLOAD})
    next(c for c in sweep.cells if c.status == "unsupported").error = f"no batch: {PAYLOAD}"
    save_run(sweep, run_path(results, sweep))
    marked_sweep = synthetic_sweep_run("synthetic-c", datetime(2026, 1, 4, 3), seed=8,
                                       model=SWEEP_MODEL, prompt_tokens=(128, 512), batch=(1,))
    for c in marked_sweep.cells:
        if c.engine == "torch":
            c.precision = f"fp32{PAYLOAD}"
    save_run(marked_sweep, run_path(results, marked_sweep))
    (results / "synthetic-a" / "corrupt.json").write_text('{"schema_version": 1, "cells": [')
    ops = synthetic_ops_run("synthetic-a", datetime(2026, 1, 9, 4), seed=5,
                            versions={"torch": PAYLOAD})
    next(r for r in ops.results if r.status == "failed").error = f"crashed: {PAYLOAD}"
    save_run(ops, run_path(results, ops))
    shutil.copy(ROOT / "data" / "features.yaml", tmp / "data" / "features.yaml")
    report = build_site(ROOT, tmp / "data", tmp / "out", docs=tmp / "docs")
    assert len(report.results.runs) == 10 and len(report.results.ops_runs) == 1
    assert [s.path.name for s in report.results.skipped] == ["corrupt.json"]
    (tmp / "out" / "hostile-run.txt").write_text(hostile.run_id)
    (tmp / "out" / "sweep-run.json").write_text(sweep.model_dump_json())
    return tmp / "out"


# machine a's candle f32 decodes at half its rate from its third run on, where candle's
# version changes: the change point its Trends and Changes pages must show
STEP_CELL, STEP_FROM = ("candle", "f32"), 2


def _step_version(day: int) -> dict[str, str]:
    return {"candle": "0.9.0" if day < STEP_FROM else "0.9.1"}


def _step(run: Run, day: int) -> None:
    from enginebench.results.stats import summarize

    cell = next(c for c in run.cells if (c.engine, c.precision) == STEP_CELL)
    assert cell.metrics.decode_tps is not None
    samples = [100.0 + i for i in range(5)] if day < STEP_FROM else [50.0 + i for i in range(5)]
    cell.metrics.decode_tps = cell.metrics.decode_tps.model_validate(summarize(samples))


def _sweep(site: Path) -> Run:
    return Run.model_validate_json((site / "sweep-run.json").read_text())


def test_shipped_claims_are_valid() -> None:
    claims = load_claims(ROOT / "data" / "features.yaml")
    assert {f.id for f in claims.features} >= {"inference", "int8", "int4", "cuda", "training"}
    assert all(str(c.source).startswith("https://") for by in claims.claims.values()
               for c in by.values())


def test_verdicts() -> None:
    run = synthetic_run("synthetic-a", datetime(2026, 1, 1), seed=1)
    cuda = synthetic_run("synthetic-a", datetime(2026, 1, 2), seed=2)
    for c in cuda.cells:
        c.device, c.status, c.error = "cuda", "unsupported", "no CUDA device"
    src = "https://example.org/docs"
    claims = FeatureClaims(
        features=[Feature(id=f, label=f) for f in ("inference", "fp16", "cuda", "training")],
        claims={"candle": {"fp16": Claim(claim="unsupported", source=src)},
                "ctranslate2": {"fp16": Claim(claim="supported", source=src)},
                "torch": {"cuda": Claim(claim="supported", source=src),
                          "training": Claim(claim="supported", source=src)}})
    matrix = build_matrix(claims, [run, cuda])
    verdict = {key: cell.verdict for key, cell in matrix.cells.items()}
    assert verdict[("torch", "inference")] == "verified"
    assert verdict[("candle", "fp16")] == "contradicted"  # runs, though the claim says no
    assert verdict[("ctranslate2", "fp16")] == "claimed"  # unsupported on cpu, claimed at all
    assert verdict[("torch", "cuda")] == "contradicted"  # a cuda run could not
    assert verdict[("torch", "training")] == "claimed"
    assert verdict[("burn", "fp16")] == "failed"
    assert verdict[("llamacpp", "cuda")] == "unsupported"
    assert verdict[("llamacpp", "training")] == "unknown"
    shown = matrix.cells[("torch", "inference")].shown
    assert shown is not None and shown.ok and shown.run is run


def test_best_is_marked_among_plausible_cells_only() -> None:
    run = synthetic_run("synthetic-a", datetime(2026, 1, 1), seed=3)
    ok = [c for c in run.cells if c.status == "ok"]
    fastest = max(ok, key=lambda c: c.metrics.decode_tps.median)
    fastest.implausible = "above the bound"
    table = cell_table(run.cells)
    decode = table.headers.index("decode tok/s (median ± sd)")
    marked = [r for r in table.rows if r.entries[decode].best]
    second = max((c for c in ok if c is not fastest), key=lambda c: c.metrics.decode_tps.median)
    assert [(r.engine, r.precision) for r in marked] == [(second.engine, second.precision)]
    assert any("implausible: above the bound" in n for n in table.notes)
    assert all(r.notes for r in table.rows if r.status != "ok")


def test_pareto_front() -> None:
    pts = [{"m": 1, "d": 5}, {"m": 2, "d": 4}, {"m": 3, "d": 9}, {"m": 3, "d": 1}]
    assert pareto_front(pts, "m", "d") == [{"m": 1, "d": 5}, {"m": 3, "d": 9}]


def test_every_page_kind_is_built(site: Path) -> None:
    hostile = (site / "hostile-run.txt").read_text()
    for page in (*PAGES, f"runs/{hostile}.html"):
        assert (site / page).is_file(), page


def test_markup_from_results_is_escaped(site: Path) -> None:
    hostile = (site / "hostile-run.txt").read_text()
    for page in ("index.html", f"runs/{hostile}.html", "ops/synthetic-a.html",
                 "scaling/synthetic-b/small.html", f"scaling/synthetic-c/{slug(SWEEP_MODEL)}.html"):
        html = (site / page).read_text()
        assert ESCAPED in html, page
    for page in site.rglob("*.html"):
        assert PAYLOAD not in page.read_text(), page


def test_site_command_errors_are_one_line(tmp_path: Path, capsys) -> None:
    assert main(["site", "--data", str(tmp_path / "nowhere")]) == 2
    assert "no such data folder" in capsys.readouterr().err
    (tmp_path / "results").mkdir()
    (tmp_path / "features.yaml").write_text("features: [{id: x}]\n")
    assert main(["site", "--data", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "features.0.label: Field required" in capsys.readouterr().err


def test_unreadable_results_file_is_listed_not_fatal(site: Path) -> None:
    html = (site / "index.html").read_text()
    assert "corrupt.json" in html and "not valid JSON" in html


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append((tag, value))


def test_links_resolve_and_assets_are_local(site: Path) -> None:
    for page in site.rglob("*.html"):
        parser = _Links()
        parser.feed(page.read_text())
        for tag, link in parser.links:
            url = urlsplit(link)
            if url.scheme or url.netloc:
                assert tag == "a", f"{page}: {tag} loads {link} from off the site"
                continue
            if not url.path:
                continue
            base = site if url.path.startswith("/") else page.parent
            target = (base / url.path.lstrip("/")).resolve()
            assert target.exists(), f"{page.relative_to(site)}: broken link {link}"


# ---- the browser -------------------------------------------------------------------------

# Debian's chromium first (scripts/system-deps.sh); a Chrome elsewhere (GitHub's runners)
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    server = local_server(site, 0)  # what `enginebench site --serve` runs
    assert server.server_address[0] == "127.0.0.1"
    server.RequestHandlerClass.log_message = lambda *a: None  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("no chromium and chromedriver: `bash scripts/system-deps.sh` installs "
                    "them on Debian")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1400,1600",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _requests(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _open(driver, url: str) -> dict:
    """Load a page, wait for its charts, and read its tables and chart marks."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return document.readyState === 'complete' && [...document.querySelectorAll("
        "'.eb-chart')].every(c => c.dataset.state === 'rendered' || "
        "c.dataset.state === 'failed')"))
    return driver.execute_script("""
        return {
          rows: [...document.querySelectorAll('article table tbody')].map(b => b.rows.length),
          charts: [...document.querySelectorAll('.eb-chart')].map(c => ({
            state: c.dataset.state,
            marks: c.querySelectorAll('svg .role-mark > *').length})),
          xss: window.__enginebenchXss === undefined ? null : window.__enginebenchXss,
          text: document.body.innerText};""")


@pytest.mark.parametrize("page,tables,charts", [
    ("index.html", 2, 0), ("features.html", 1, 0), ("trends/index.html", 0, 0),
    ("trends/synthetic-a.html", 0, 1), ("pareto/synthetic-a.html", 0, 2),
    ("ops/index.html", 0, 0), ("ops/synthetic-a.html", 1, 1),
    ("runs/index.html", 1, 0), ("runs/{hostile}.html", 3, 1), ("methodology.html", 0, 0),
    ("scaling/index.html", 0, 0), ("scaling/synthetic-b/small.html", 1, 4),
    ("changes/index.html", 0, 0), ("changes/synthetic-a.html", 1, 0),
    ("scaling/synthetic-c/{sweep_model}.html", 1, 2), ("compare/index.html", 0, 0)])
def test_page_in_chromium(browser, served: str, site: Path, page: str, tables: int,
                          charts: int) -> None:
    browser.get_log("performance")  # drop earlier pages' requests
    page = page.format(hostile=(site / "hostile-run.txt").read_text(),
                       sweep_model=slug(SWEEP_MODEL))
    seen = _open(browser, f"{served}/{page}")
    assert len(seen["rows"]) >= tables and all(n > 0 for n in seen["rows"]), seen["rows"]
    assert len(seen["charts"]) >= charts
    for chart in seen["charts"]:
        assert chart["state"] == "rendered" and chart["marks"] > 0, chart
    assert seen["xss"] is None
    off_site = [u for u in _requests(browser)
                if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                and urlsplit(u).hostname != "127.0.0.1"]
    assert off_site == []
    if page == "index.html":
        assert PAYLOAD in seen["text"]  # shown as text, not run


@pytest.mark.parametrize("page", ["index.html", "runs/{hostile}.html", "runs/{sweep}.html",
                                  "ops/synthetic-a.html", "pareto/synthetic-a.html",
                                  "compare/index.html", "features.html"])
def test_tables_fit_their_column_at_1280px(browser, served: str, site: Path, page: str
                                           ) -> None:
    """No table or chart is wider than the article at 1280 px (a run page's KL, top-1 and
    roofline once sat behind a scrollbar, cut mid-number; the operators legend was cut)."""
    from selenium.webdriver.support.ui import WebDriverWait

    page = page.format(hostile=(site / "hostile-run.txt").read_text(),
                       sweep=json.loads((site / "sweep-run.json").read_text())["run_id"])
    browser.set_window_size(1280, 1600)
    try:
        _open(browser, f"{served}/{page}")
        WebDriverWait(browser, 30).until(lambda d: d.execute_script(
            "const r = document.getElementById('eb-compare');"
            "return !r || r.dataset.state === 'rendered'"))
        wide = browser.execute_script("""
            return [...document.querySelectorAll('article table, article .eb-chart')]
              .filter(t => t.scrollWidth > t.clientWidth + 1)
              .map(t => [t.className || t.id, t.scrollWidth, t.clientWidth]);""")
    finally:
        browser.set_window_size(1400, 1600)
    assert wide == []


def test_methodology_puts_the_seed_row_beside_the_latest_7b_run(tmp_path: Path) -> None:
    """The seed's 2023 M1 figures are quoted beside each machine's latest `llama2-7b` cells
    at 8 and 4 bits, from the run file; a machine with no 7B run gets no table."""
    from enginebench.site.mkdocs_hook import sidecar
    from enginebench.site.pages import Renderer, workload_summary
    from enginebench.site.records import Results
    from enginebench.site.seed import SEED_M1_2023, seed_tables

    old = synthetic_run("synthetic-a", datetime(2026, 1, 1, 3), seed=1, model="llama2-7b")
    new = synthetic_run("synthetic-a", datetime(2026, 1, 2, 3), seed=2, model="llama2-7b")
    small = synthetic_run("synthetic-b", datetime(2026, 1, 2, 3), seed=3)
    results = Results(runs=[old, small, new])
    (table,) = seed_tables(results, workload_summary)
    assert (table.machine, table.run_id) == ("synthetic-a", new.run_id)
    rows = {r.engine: r for r in table.rows}
    assert list(rows) == list(SEED_M1_2023)
    assert rows["llamacpp"].seed == "13.2" and rows["burn"].seed == ""
    q8 = next(c for c in new.cells if (c.engine, c.precision) == ("llamacpp", "q8_0"))
    assert q8.metrics.decode_tps is not None
    assert rows["llamacpp"].by_class["int8"] == [
        f"q8_0 {number(q8.metrics.decode_tps.median)} tok/s"]
    assert sorted(t.split()[0] for t in rows["llamacpp"].by_class["int4"]) == ["q4_0",
                                                                               "q4_k_m"]
    docs = tmp_path / "docs"
    Renderer(ROOT / "templates", docs, results,
             load_claims(ROOT / "data" / "features.yaml")).render_all()
    page = (docs / "methodology.md").read_text()
    assert "### synthetic-a, 2026-01-02" in page and "synthetic-b" not in page
    html = "".join(json.loads(sidecar(docs, "methodology.md").read_text()))
    assert "13.2" in html and rows["llamacpp"].by_class["int8"][0] in html


# ---- sweeps --------------------------------------------------------------------------------

SPEC = re.compile(r'<script type="application/json" class="eb-chart-spec" '
                  r'data-target="([^"]+)">(.*?)</script>', re.S)
ROW = re.compile(r'<tr class="eb-row[^"]*"[^>]*><td>([^<]*)</td><td><code>[^<]*</code></td>'
                 r'<td>([^<]*)</td>')


def _specs(html: str) -> dict[str, dict]:
    return {target: json.loads(text) for target, text in SPEC.findall(html)}


def _section(html: str, heading_id: str) -> str:
    """The page's HTML from the h2 `heading_id` to the next h2."""
    return html.split(f'<h2 id="{heading_id}"', 1)[1].split("<h2", 1)[0]


def test_scaling_pages_only_where_a_sweep_is(site: Path) -> None:
    pages = sorted(p.relative_to(site / "scaling").as_posix()
                   for p in (site / "scaling").rglob("*.html"))
    assert pages == ["index.html", "synthetic-b/small.html",
                     f"synthetic-c/{slug(SWEEP_MODEL)}.html"]
    index = (site / "scaling" / "index.html").read_text()
    assert 'href="synthetic-b/small.html"' in index
    assert 'href="scaling/synthetic-b/small.html"' in (site / "index.html").read_text()
    run_page = (site / "runs" / f"{_sweep(site).run_id}.html").read_text()
    assert 'href="../scaling/synthetic-b/small.html"' in run_page
    assert 'href="scaling/index.html"' in (site / "index.html").read_text()  # the nav


def test_sweep_shows_its_headline_point_once_per_engine_precision(site: Path) -> None:
    """Home, trends and Pareto show the sweep at pp128 tg128 b1 only; its run page lists
    every cell, one table per point."""
    run = _sweep(site)
    head = run.headline_cells()
    assert len(head) == len(SWEEP_CELLS) and len(run.cells) == 6 * len(SWEEP_CELLS)
    home = _section((site / "index.html").read_text(), "synthetic-b")
    assert "pp128 tg128 b1 (one point of the sweep pp 128, 512, 1920 x tg 128 x batch 1, 4)" \
        in home
    shown = ROW.findall(home.split("</table>")[0])
    assert shown == [(c.engine, c.precision) for c in head]
    ok = {cell_key(c) for c in head if c.status == "ok"}
    (trends,) = _specs((site / "trends" / "synthetic-b.html").read_text()).values()
    of_sweep = [r["cell"] for r in trends["datasets"]["trend"] if r["run"] == run.run_id]
    assert sorted(of_sweep) == sorted(ok)
    pareto = _specs((site / "pareto" / "synthetic-b.html").read_text())
    memory = next(s for s in pareto.values() if "points" in s["datasets"])
    assert len(memory["datasets"]["points"]) == len(ok)
    run_page = (site / "runs" / f"{run.run_id}.html").read_text()
    assert len(ROW.findall(run_page)) == len(run.cells)
    for label in ("pp128 tg128 b1 (headline)", "pp512 tg128 b4", "pp1920 tg128 b4"):
        assert label in run_page


def test_scaling_charts_draw_every_ok_cell_and_nothing_else(site: Path) -> None:
    run = _sweep(site)
    html = (site / "scaling" / "synthetic-b" / "small.html").read_text()
    specs = _specs(html)
    assert sorted(specs) == ["scaling-batch", "scaling-depth", "scaling-memory",
                             "scaling-prefill"]
    held = {"prefill": ("prompt_tokens", {"batch": 1}), "depth": ("prompt_tokens", {"batch": 1}),
            "memory": ("prompt_tokens", {"batch": 1}), "batch": ("batch", {"prompt_tokens": 128})}
    for name, (x, fixed) in held.items():
        cells = [c for c in run.cells if all(getattr(run.point(c), k) == v
                                             for k, v in fixed.items())]
        want = {(cell_key(c), getattr(run.point(c), x)) for c in cells if c.status == "ok"}
        data = specs[f"scaling-{name}"]["datasets"]
        drawn = {(r["cell"], r["x"]) for r in data["lines"]}
        assert drawn == want, name
        assert len({cell for cell, _ in drawn}) == len({cell_key(c) for c in cells
                                                        if c.status == "ok"})
        (best,) = data["best"]
        assert best["x"] == max(x for _, x in want) and best["label"].startswith("best at")
    assert ("candle f32", 4) not in {(r["cell"], r["x"])
                                     for r in specs["scaling-batch"]["datasets"]["lines"]}
    assert {(r["cell"], r["x"]) for r in specs["scaling-batch"]["datasets"]["lines"]} >= {
        ("torch fp32", 4)}
    # the table: every cell; those that did not run give their status and reason, no figure
    table = html.split('class="eb-cells eb-scaling"', 1)[1].split("</table>", 1)[0]
    assert table.count('<tr class="eb-row') == len(run.cells)
    assert table.count('<tr class="eb-row eb-unsupported">') == 3
    failed = table.split('<tr class="eb-row eb-failed">', 1)[1].split("</tr>", 1)[0]
    assert "<strong>failed</strong>: out of memory" in failed and "eb-num" not in failed
    # the depth chart says what llama-bench calls it; a log x axis for P (128 to 1920)
    assert "tg128 @ d2048" in html
    assert specs["scaling-depth"]["layer"][0]["encoding"]["x"]["scale"]["type"] == "log"
    assert specs["scaling-batch"]["layer"][0]["encoding"]["x"]["scale"]["type"] == "linear"


def test_a_sweep_of_one_axis_draws_the_charts_it_can(site: Path) -> None:
    html = (site / "scaling" / "synthetic-c" / f"{slug(SWEEP_MODEL)}.html").read_text()
    assert sorted(_specs(html)) == ["scaling-depth", "scaling-memory", "scaling-prefill"]
    assert "Aggregate decode against batch: the run&#39;s ok cells at tg128, pp128 have one " \
        "batch size (1)." in html


# ---- change points ----------------------------------------------------------------------


def test_a_step_is_a_change_point_on_trends_and_changes(site: Path) -> None:
    """Machine a's candle f32 halves from its third run on, with candle 0.9.0 -> 0.9.1: its
    Changes page lists the step with the cause, and its trend chart draws a rule there."""
    page = (site / "changes" / "synthetic-a.html").read_text()
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", page, re.S) if "candle f32," in r)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[1:3] == ["candle f32, 8 threads", "decode tok/s"]
    assert cells[3:6] == ["102.0", "52.0", "-49.0"]  # asv's step levels: the medians
    assert cells[6] == "2 / 2" and cells[7] == "candle 0.9.0 -&gt; 0.9.1"
    assert "noise floor" in page and "Q3 + 3 IQR" in page
    (trends,) = _specs((site / "trends" / "synthetic-a.html").read_text()).values()
    rules = [r for r in trends["datasets"]["changes"] if r["cell"] == "candle f32, 8 threads"]
    assert [(r["metric"], r["change"]) for r in rules] == [("decode", -49.02)]
    assert rules[0]["href"].endswith(".html")
    assert (site / "changes" / "synthetic-b.html").is_file()


def test_run_page_lists_each_cells_rerun_command_escaped(site: Path) -> None:
    page = (site / "runs" / f"{(site / 'hostile-run.txt').read_text()}.html").read_text()
    assert "Rerun one cell" in page
    assert f"enginebench run --engines {ESCAPED}" in page and PAYLOAD not in page


def test_changes_page_compares_the_latest_run_with_the_one_before(site: Path) -> None:
    page = (site / "changes" / "synthetic-a.html").read_text()
    section = _section(page, "latest-small")
    hostile = (site / "hostile-run.txt").read_text()
    assert "the latest run against the one before" in section
    assert f'href="../runs/{hostile}.html"' in section and "enginebench compare" in section
    counts = re.search(r"gives it:\s*(.*?)\.", section, re.S)
    assert counts and re.fullmatch(r"(\d+ [a-z ]+)(, \d+ [a-z ]+)*", counts[1].strip())
