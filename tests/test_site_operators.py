"""The operators page (site/operators.py): a compute ceiling per precision on the roofline,
a roof % above 100 only with the note that says why, the op x engine·precision pivot that
agrees with the long table, and the page as built."""

import re
import shutil
import statistics
from datetime import datetime

import pytest
import vl_convert as vlc
from synthetic_runs import synthetic_ops_run
from test_site import ESCAPED, PAYLOAD, ROOT, _specs

from enginebench.measure.ops_suite import ceilings, place_under_roof
from enginebench.models.presets import PRESETS
from enginebench.ops.cases import model_cases, peak_case
from enginebench.results.schema import OpResult, OpsRun
from enginebench.results.stats import summarize
from enginebench.results.store import run_path, save_run
from enginebench.site.build import build_site
from enginebench.site.operators import ops_section, roofline_chart
from enginebench.site.records import slug

MACHINE = "synthetic-ops"
# synthetic_ops_run's cases: the peak matmul, then one layer at tiny's shapes
PEAK = peak_case(64)
CASES = {c.name: c for c in (PEAK, *model_cases(PRESETS["tiny"].config(), 16, 40))}
# torch at more precisions, as times relative to its fp32 ones: int4 is slower than fp32,
# so its ops are held to fp32's roof
SPEEDS = {"bf16": 4.0, "int8": 2.0, "int4": 0.5}
NOTE = re.compile(r"\[(\d+)\]")


def _timed(r: OpResult, us: list[float], **update: object) -> OpResult:
    """`r` with per-call times `us` and the rates they give, its roof left to be placed."""
    nbytes = update.get("bytes", r.bytes)
    med = statistics.median(us)
    return OpResult.model_validate({
        **r.model_dump(), **update, "time_us": summarize(us), "gflops": r.flops / med / 1e3,
        "gbs": nbytes / med / 1e3, "roof_gflops": None, "bound": None, "roofline_pct": None,
        "implausible": None})


def multi_precision_run() -> OpsRun:
    """synthetic_ops_run (numpy and torch at fp32, a failed case with markup in its error)
    plus torch at bf16, int8 and int4, under the roofline as a real run is; then one bf16
    matmul 10% above its roof (within the margin: a measured ceiling beaten, kept) and
    another 60% above (implausible)."""
    run = synthetic_ops_run(MACHINE, datetime(2026, 1, 9, 4), seed=5,
                            versions={"torch": PAYLOAD})
    next(r for r in run.results if r.status == "failed").error = f"crashed: {PAYLOAD}"
    results = list(run.results)
    for r in run.results:
        if r.engine == "torch" and r.status == "ok" and r.time_us:
            for precision, speed in SPEEDS.items():
                nbytes = CASES[r.case].bytes(precision)
                results.append(_timed(r, [t / speed for t in r.time_us.samples],
                                      precision=precision, bytes=nbytes,
                                      intensity=r.flops / nbytes))
    bandwidth = run.ceilings.bandwidth if run.ceilings else None
    ceil = ceilings(results, PEAK, bandwidth)
    place_under_roof(results, ceil)
    beaten = [i for i, r in enumerate(results) if r.precision == "bf16"
              and r.bound == "compute" and r.case.startswith("matmul.") and r.case != PEAK.name]
    for i, pct in zip(beaten[:2], (110.0, 160.0), strict=True):
        r = results[i]
        assert r.time_us and r.roofline_pct
        results[i] = _timed(r, [t * r.roofline_pct / pct for t in r.time_us.samples])
    place_under_roof(results, ceil)
    return run.model_copy(update={"results": results, "ceilings": ceil})


@pytest.fixture(scope="module")
def run() -> OpsRun:
    return multi_precision_run()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, run: OpsRun) -> str:
    """The operators page of a site built from the run alone."""
    tmp = tmp_path_factory.mktemp("ops-site")
    save_run(run, run_path(tmp / "data" / "results", run))
    shutil.copy(ROOT / "data" / "features.yaml", tmp / "data" / "features.yaml")
    build_site(ROOT, tmp / "data", tmp / "out", docs=tmp / "docs")
    return (tmp / "out" / "ops" / f"{slug(MACHINE)}.html").read_text()


def test_each_op_is_held_to_its_own_precisions_ceiling(run: OpsRun) -> None:
    """The roof % of a compute-bound op is against its precision's peak (bf16's for bf16,
    not fp32's); a precision slower than fp32 is held to fp32's."""
    assert run.ceilings
    peaks = run.ceilings.peak_gflops
    assert set(peaks) == {"fp32", *SPEEDS}
    assert peaks["bf16"] > 3 * peaks["fp32"] > 3 * peaks["int4"]
    for r in run.results:
        if r.status == "ok" and r.bound == "compute":
            own = peaks["fp32"] if r.precision == "int4" else peaks[r.precision]
            assert r.roof_gflops == pytest.approx(own), (r.case, r.precision)


def test_roofline_draws_a_labelled_ceiling_per_precision_and_fits(run: OpsRun) -> None:
    spec = roofline_chart(run)
    assert spec and run.ceilings
    data = spec["datasets"]
    peaks = run.ceilings.peak_gflops
    lines: dict[str, set[float]] = {}
    for row in data["compute"]:
        lines.setdefault(row["precision"], set()).add(row["gflops"])
    assert lines == {p: {g} for p, g in peaks.items()}  # one flat line at each peak
    labels = {row["precision"]: row["text"] for row in data["labels"]
              if row["kind"] == "compute"}
    assert labels == {p: f"{p} {g:,.0f}" + (" (roof: fp32)" if p == "int4" else "")
                      for p, g in peaks.items()}
    assert {row["level"] for row in data["memory"]} == {"cache", "DRAM"}
    assert [row["text"].split()[0] for row in data["labels"] if row["kind"] == "memory"] \
        == ["cache", "DRAM"]
    # the points of every precision are drawn, in the colour of their ceiling
    assert {p["precision"] for p in data["points"]} == set(peaks)
    assert spec["config"]["legend"]["orient"] == "bottom"
    svg = vlc.vegalite_to_svg(spec)
    width = float(re.search(r'<svg[^>]*\bwidth="([\d.]+)"', svg).group(1))  # type: ignore[union-attr]
    assert width <= 733 - 38  # the article at 1280 px, less vega-embed's export menu


def test_roof_above_100_only_with_its_note(run: OpsRun) -> None:
    section = ops_section(run)
    notes = section["notes"]
    above = []
    for row in section["rows"]:
        value, _, mark = row[8].partition(" ")
        if value and float(value.replace(",", "")) > 100:
            number = NOTE.fullmatch(mark)
            assert number, row
            above.append((row, notes[int(number.group(1)) - 1]))
    assert len(above) == 2 == section["above_roof"]
    (kept, kept_note), (flagged, flagged_note) = above
    assert kept[-1] == "ok" and "110% of its roof, kept as measured" in kept_note
    assert "bf16 compute ceiling is the fastest sample" in kept_note
    assert flagged[-1].startswith("ok, IMPLAUSIBLE [") and "160% of the roofline" in flagged_note
    # the pivot's cells carry the same notes
    marked = {c["text"]: c["note"] for r in section["pivot"]["rows"] for c in r["cells"]
              if c["note"] and c["status"] == "ok"}
    assert sorted(marked.values()) == sorted(row[8].split()[1] for row, _ in above)


def test_pivot_one_row_per_case_one_column_per_engine_precision(run: OpsRun) -> None:
    section = ops_section(run)
    pivot, rows = section["pivot"], section["rows"]
    assert [r["case"] for r in pivot["rows"]] == list(dict.fromkeys(r[0] for r in rows))
    assert [r["shape"] for r in pivot["rows"]] == list(dict.fromkeys(r[1] for r in rows))
    pairs = {(r.engine, r.precision) for r in run.results}
    assert sorted(pivot["columns"]) == sorted(f"{e} · {p}" for e, p in pairs)
    assert pivot["columns"][0] == "numpy · fp32" and pivot["columns"][-1] == "torch · int4"
    index = {c: i for i, c in enumerate(pivot["columns"])}
    long = {(r[0], f"{r[2]} · {r[3]}"): r for r in rows}
    filled = 0
    for prow in pivot["rows"]:
        cells = prow["cells"]
        assert len(cells) == len(pivot["columns"])
        for column, i in index.items():
            row, cell = long.get((prow["case"], column)), cells[i]
            if row is None:
                assert cell["text"] == "" and not cell["best"]
                continue
            filled += 1
            if row[-1].startswith("ok"):
                pct, _, mark = row[8].partition(" ")
                assert cell["text"].replace("\u00a0", " ") == \
                    f"{row[4].split(' ± ')[0]} µs · {pct}%"
                assert cell["note"] == mark
            else:
                assert (cell["text"], cell["note"]) == tuple(row[-1].split(" ", 1))
        # bold: the least median among the row's plausible ok results
        plausible = {i: float(long[(prow["case"], c)][4].split(" ± ")[0].replace(",", ""))
                     for c, i in index.items() if (prow["case"], c) in long
                     and long[(prow["case"], c)][-1] == "ok"}
        assert [i for i, c in enumerate(cells) if c["best"]] == \
            [min(plausible, key=plausible.__getitem__)]
    assert filled == len(rows) == len(run.results)


def test_operators_page_builds_short_and_escaped(page: str, run: OpsRun) -> None:
    charts = _specs(page)
    assert len(charts) == 1
    spec = next(iter(charts.values()))
    assert {r["precision"] for r in spec["datasets"]["compute"]} == {"fp32", *SPEEDS}
    pivot = page.split('<table class="eb-cells eb-ops-pivot">', 1)[1].split("</table>", 1)[0]
    cases = len({r.case for r in run.results})
    assert pivot.count("<tr") == 1 + cases
    assert pivot.count("<strong>") == cases  # one fastest per row
    assert f"<summary>every result ({len(run.results)} rows)</summary>" in page
    details = page.split("<details", 1)[1].split("</details>", 1)[0]
    assert details.count('<tr class="eb-row') == len(run.results)
    assert "2 results are above 100% of their roof" in page
    assert "kept as measured" in page
    assert ESCAPED in page and PAYLOAD not in page
    for p, g in (run.ceilings.peak_gflops.items() if run.ceilings else []):
        assert f"peak {p}: {g:,.1f} GFLOP/s" in page
    assert "cache bandwidth: 110.0 GB/s at 1 MB" in page
    assert "DRAM bandwidth: 14.0 GB/s at 512 MB" in page
