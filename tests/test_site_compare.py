"""The site's compare view (two engines, two machines, two dates side by side, with
compare's verdict rule) and every table's sorting, filtering, downloads and header
definitions, in headless Chromium on the synthetic site of test_site."""

import json
from pathlib import Path

import pytest
from test_site import browser, served, site  # noqa: F401  (the fixtures, reused)

from enginebench.results.compare import compare
from enginebench.site.glossary import tip
from enginebench.site.records import load_results, slug


def _catalogue(site: Path) -> dict:  # noqa: F811
    html = (site / "compare" / "index.html").read_text()
    start = html.index('id="eb-compare-catalogue">') + len('id="eb-compare-catalogue">')
    return json.loads(html[start:html.index("</script>", start)])


def _runs(site: Path):  # noqa: F811
    return load_results(site.parent / "data").runs


def test_every_run_publishes_its_cells_for_the_compare_view(site: Path) -> None:  # noqa: F811
    cat = _catalogue(site)
    runs = _runs(site)
    assert [r["id"] for r in cat["runs"]] == [r.run_id for r in runs[::-1]]
    for run in runs:
        doc = json.loads((site / "runs" / f"{slug(run.run_id)}.cells.json").read_text())
        assert doc["run"] == run.run_id and len(doc["cells"]) == len(run.cells)
        ok = [c for c in doc["cells"] if c["status"] == "ok"]
        assert ok and all(c["decode"] for c in ok)
    kinds = {p["kind"] for p in cat["presets"]}
    assert kinds == {"two engines", "two dates", "two machines"}, kinds
    assert cat["rule"] == {"min_samples": 3, "resamples": 2000, "seed": 0}


def _view(driver, served: str, **query: str) -> dict:  # noqa: F811
    from urllib.parse import urlencode

    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{served}/compare/index.html?{urlencode(query)}")
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "const r = document.getElementById('eb-compare');"
        "return r && ['rendered', 'message'].includes(r.dataset.state) && "
        "!r.textContent.includes('comparing ...')"))
    return driver.execute_script("""
        const root = document.getElementById('eb-compare');
        return {
          rows: [...root.querySelectorAll('table tbody tr')].map(tr => ({
            pclass: tr.dataset.pclass,
            cells: [...tr.cells].map(td => td.innerText)})),
          text: root.innerText,
          xss: window.__enginebenchXss === undefined ? null : window.__enginebenchXss};""")


def test_two_dates_give_compares_verdicts(browser, served: str, site: Path) -> None:  # noqa: F811
    """Machine a's runs of day 2 and day 3 (candle f32 halves between them): the view's
    ratios are compare's, and its verdict is compare's wherever the interval is not at
    the edge (the two bootstraps draw different resamples)."""
    runs = [r for r in _runs(site) if r.machine.label == "synthetic-a"]
    base, new = runs[1], runs[2]
    floor = next(r["floor"] for r in _catalogue(site)["runs"] if r["id"] == new.run_id)
    seen = _view(browser, served, a=slug(base.run_id), b=slug(new.run_id))
    assert "two dates" in seen["text"]
    shown = {(row["cells"][0], row["cells"][2]): row["cells"][3] for row in seen["rows"]}
    expected = compare(base, new, floor)
    checked = 0
    for row in expected.rows:
        if row.metric != "decode_tps" or row.verdict == "not comparable":
            continue
        text = shown[(f"{row.engine} {row.precision}", row.point)]
        assert f"x{row.ratio:.2f}" in text
        lo, hi = row.ci95 or (1.0, 1.0)
        at_edge = min(abs(lo - 1), abs(hi - 1)) < 0.03 or \
            abs(abs(row.ratio - 1) * 100 - floor) < 1
        if not at_edge:
            assert text.splitlines()[-1] == row.verdict, (row, text)
            checked += 1
    assert checked >= 5
    assert shown[("candle f32", "pp128 tg128 b1")].splitlines()[-1] == "slower"


def test_two_engines_pair_cells_within_a_precision_class(browser, served: str,  # noqa: F811
                                                         site: Path) -> None:  # noqa: F811
    run = [r for r in _runs(site) if r.machine.label == "synthetic-a"][-1]
    seen = _view(browser, served, a=slug(run.run_id), b=slug(run.run_id), ea="llamacpp",
                 eb="torch")
    assert "two engines of one run" in seen["text"] and seen["rows"]
    classes = {(c.engine, c.precision): c.precision_class for c in run.cells}
    for row in seen["rows"]:
        (ea, pa), (eb, pb) = (row["cells"][0].split(" ", 1), row["cells"][1].split(" ", 1))
        assert (ea, eb) == ("llamacpp", "torch")
        assert classes[(ea, pa)] == classes[(eb, pb)] == row["pclass"]
    assert seen["xss"] is None


def test_runs_of_different_models_are_not_compared(browser, served: str,  # noqa: F811
                                                   site: Path) -> None:  # noqa: F811
    runs = _runs(site)
    marked = next(r for r in runs if r.machine.label == "synthetic-c" and "script" in r.run_id)
    other = next(r for r in runs if r.machine.label == "synthetic-a")
    seen = _view(browser, served, a=slug(marked.run_id), b=slug(other.run_id))
    assert seen["rows"] == [] and "different models" in seen["text"]
    assert "<script>" in seen["text"] and seen["xss"] is None  # the model name, as text


def _column(driver, table: int, col: int) -> list[str]:
    return driver.execute_script(
        "const t = document.querySelectorAll('article table')[arguments[0]];"
        "return [...t.tBodies[0].rows].filter(r => !r.hidden)"
        ".map(r => r.cells[arguments[1]].innerText.trim());", table, col)


def _number(text: str) -> float:
    return float(text.replace(",", "").split()[0])


def test_tables_sort_filter_and_download(browser, served: str, site: Path) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    browser.get(f"{served}/index.html")
    tables = browser.find_elements(By.CSS_SELECTOR, "article table")
    table = next(i for i, t in enumerate(tables) if "eb-cells" in t.get_attribute("class"))
    headers = tables[table].find_elements(By.CSS_SELECTOR, "thead th")
    names = [h.text for h in headers]
    col = next(i for i, h in enumerate(names) if h.startswith("decode tok/s"))
    decode = [t for t in _column(browser, table, col) if t]
    headers[col].click()
    up = [t for t in _column(browser, table, col) if t]
    assert [_number(t) for t in up] == sorted(_number(t) for t in decode)
    assert _column(browser, table, col)[-1] == "" or "" not in _column(browser, table, col)
    headers[col].click()
    down = [t for t in _column(browser, table, col) if t]
    assert [_number(t) for t in down] == sorted((_number(t) for t in decode), reverse=True)
    # filter by engine: only its rows stay
    browser.execute_script("""
        const t = document.querySelectorAll('article table')[arguments[0]];
        const s = t.previousElementSibling.querySelector('select[aria-label="filter by engine"]');
        s.value = 'llamacpp'; s.dispatchEvent(new Event('change'));""", table)
    engines = _column(browser, table, 0)
    assert engines and set(engines) == {"llamacpp"}
    # download: the CSV holds the header and the rows shown
    text = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const t = document.querySelectorAll('article table')[arguments[0]];
        URL.createObjectURL = (blob) => { blob.text().then(done); return '#'; };
        HTMLAnchorElement.prototype.click = () => {};  // no download dialog in the test
        [...t.previousElementSibling.querySelectorAll('button')]
          .find(b => b.textContent === 'CSV').click();""", table)
    lines = text.strip().splitlines()
    assert lines[0].split(",")[0] == "engine" and len(lines) == 1 + len(engines)
    assert all(line.startswith("llamacpp,") for line in lines[1:])


@pytest.mark.parametrize("header,word", [
    ("decode tok/s (median ± sd)", "tg"), ("prefill tok/s", "pp"), ("KL mean", "KL"),
    ("top-1 %", "fp32"), ("roofline %", "bandwidth"), ("TTFT ms", "first token")])
def test_headers_define_their_terms(site: Path, header: str, word: str) -> None:  # noqa: F811
    assert word in tip(header)
    run = next(p for p in (site / "runs").glob("*.html") if "KL mean" in p.read_text()
               and header in p.read_text())
    assert f'title="{tip(header)}"' in run.read_text().replace("&#39;", "'")


def test_the_methodology_lists_every_definition(site: Path) -> None:  # noqa: F811
    from html import unescape

    from enginebench.site.glossary import GLOSSARY

    page = unescape((site / "methodology.html").read_text())
    for term, text in GLOSSARY.items():
        assert f"<th>{term}</th><td>{text}</td>" in page
