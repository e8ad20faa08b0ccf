"""The operators page's view of one ops run: the roofline chart (a compute ceiling per
precision, the cache and DRAM ceilings), the op x engine·precision pivot and the long table
of every result."""

import functools
import math

import altair as alt

from enginebench.report.ops_table import ordered
from enginebench.report.ops_table import rows as ops_rows
from enginebench.results.schema import PRECISION_CLASSES, Ceilings, OpResult, OpsRun
from enginebench.site.charts import Spec, with_data
from enginebench.site.records import model_name

# one colour per precision class, the same on every page: a ceiling and its points share it
COLOURS = {"fp32": "#3465a4", "fp16": "#f57900", "bf16": "#4e9a06", "int8": "#cc0000",
           "int4": "#75507b"}
WIDTH, HEIGHT = 500, 400  # with axis, labels and export menu: the 733 px column at 1280 px
LABEL_PX = 13  # height of a ceiling's label: labels closer than this are moved apart


def _gbs(point: dict) -> float:
    return max(v for k, v in point.items() if k.endswith("_gbs"))


def memory_ceilings(c: Ceilings) -> list[tuple[str, float, int]]:
    """(name, GB/s, bytes): the best kernel at the smallest working set measured (cache)
    and at the largest (DRAM)."""
    points = sorted((c.bandwidth or {}).get("points") or [], key=lambda p: p["bytes"])
    if not points:
        return []
    if len(points) == 1:
        return [("bandwidth", _gbs(points[0]), points[0]["bytes"])]
    return [(name, _gbs(p), p["bytes"]) for name, p in (("cache", points[0]),
                                                         ("DRAM", points[-1]))]


def compute_ceilings(c: Ceilings) -> list[tuple[str, float, str]]:
    """(precision, GFLOP/s, engine) of every precision with a measured peak, in class
    order."""
    return [(p, c.peak_gflops[p], c.peak_engine.get(p, "")) for p in PRECISION_CLASSES
            if p in c.peak_gflops]


def held_to_fp32(c: Ceilings, precision: str) -> bool:
    """Whether a precision's ops are held to fp32's compute roof, not their own peak: a
    weight format can always be widened and multiplied at fp32's rate (measure/roofline.py's
    peak_for)."""
    return precision != "fp32" and c.peak_gflops.get(precision, 0.0) < c.peak_gflops.get(
        "fp32", 0.0)


def _dodge(values: list[float], domain: tuple[float, float]) -> list[float]:
    """Where each label's baseline goes on a log axis of HEIGHT px over `domain`: just
    above its line, moved down as far as needed to clear the label above it."""
    lo, hi = (math.log10(v) for v in domain)
    px = HEIGHT / (hi - lo)
    out = [0.0] * len(values)
    ceiling = HEIGHT - LABEL_PX
    for i in sorted(range(len(values)), key=lambda i: -values[i]):
        at = min((math.log10(values[i]) - lo) * px + 2, ceiling)
        ceiling = at - LABEL_PX
        out[i] = 10 ** (at / px + lo)
    return out


@functools.cache
def _roofline_template(x_domain: tuple[float, float], y_domain: tuple[float, float],
                       precisions: tuple[str, ...]) -> Spec:
    x = alt.X("intensity:Q", title="arithmetic intensity (FLOP per byte moved, log)",
              scale=alt.Scale(type="log", domain=list(x_domain), nice=False))
    y = alt.Y("gflops:Q", title="GFLOP/s (log)",
              scale=alt.Scale(type="log", domain=list(y_domain), nice=False))
    colour = alt.Color("precision:N", title="precision (ceiling and ops)",
                       scale=alt.Scale(domain=list(precisions),
                                       range=[COLOURS[p] for p in precisions]))
    memory = alt.Chart(alt.Data(name="memory")).mark_line(
        color="#555", strokeWidth=1.5).encode(
        x=x, y=y, detail="ceiling:N", tooltip=["ceiling:N"],
        strokeDash=alt.StrokeDash("level:N", legend=None, scale=alt.Scale(
            domain=["cache", "DRAM", "bandwidth"], range=[[5, 3], [1, 0], [1, 0]])))
    compute = alt.Chart(alt.Data(name="compute")).mark_line(strokeWidth=1.5).encode(
        x=x, y=y, color=colour, detail="ceiling:N", tooltip=["ceiling:N"])
    points = alt.Chart(alt.Data(name="points")).mark_point(
        filled=True, size=60, opacity=0.85).encode(
        x=x, y=y, color=colour, shape=alt.Shape("engine:N", title="engine"),
        tooltip=["case:N", "engine:N", "precision:N", "shape:N",
                 alt.Tooltip("time_us:Q", title="median µs", format=",.1f"),
                 alt.Tooltip("gflops:Q", format=",.2f"),
                 alt.Tooltip("pct:Q", title="% of roof", format=",.0f")])
    labels = alt.Chart(alt.Data(name="labels"))
    # in the right margin, beside the line's end: clear of the points
    compute_labels = labels.transform_filter(alt.datum.kind == "compute").mark_text(
        align="left", baseline="bottom", dx=4, fontSize=11).encode(
        x=x, y=y, text="text:N", color=colour)
    # along the line, ending where it meets the highest compute ceiling
    decades = [math.log10(d[1] / d[0]) for d in (x_domain, y_domain)]
    slope = math.degrees(math.atan(HEIGHT / decades[1] / (WIDTH / decades[0])))
    memory_labels = labels.transform_filter(alt.datum.kind == "memory").mark_text(
        align="right", baseline="bottom", dx=-10, dy=-2, angle=360 - slope, fontSize=11,
        color="#333").encode(x=x, y=y, text="text:N")
    return alt.layer(memory, compute, points, compute_labels, memory_labels).properties(
        width=WIDTH, height=HEIGHT).configure_legend(
        orient="bottom", direction="horizontal", columns=8, labelLimit=0).to_dict()


def roofline_chart(run: OpsRun) -> Spec | None:
    """Every ok result at its intensity and GFLOP/s, coloured by precision, under a compute
    ceiling per precision with a measured peak and the memory ceilings at the smallest
    (cache) and largest (DRAM) working sets measured; each ceiling labelled on the chart."""
    c = run.ceilings
    points = [{"case": r.case, "engine": r.engine, "precision": r.precision, "op": r.op,
               "shape": r.shape, "intensity": r.intensity, "gflops": r.gflops,
               "time_us": r.time_us.median if r.time_us else None, "pct": r.roofline_pct}
              for r in run.results if r.status == "ok" and r.gflops and r.intensity]
    if not points or c is None:
        return None
    peaks, bws = compute_ceilings(c), memory_ceilings(c)
    top = max([g for _, g, _ in peaks] + [p["gflops"] for p in points])
    lo = min(p["intensity"] for p in points) / 2
    hi = max([p["intensity"] for p in points] + [top / b for _, b, _ in bws]) * 6
    fastest_bw = max((b for _, b, _ in bws), default=None)
    bottom = min([p["gflops"] for p in points] + [lo * b for _, b, _ in bws]) / 2
    y_domain = (bottom, top * 2)
    compute, memory, labels = [], [], []
    for (p, g, engine), y in zip(peaks, _dodge([g for _, g, _ in peaks], y_domain),
                                 strict=True):
        name = f"{p} {g:,.0f}" + (" (roof: fp32)" if held_to_fp32(c, p) else "")
        start = max(lo, g / fastest_bw) if fastest_bw else lo
        compute += [{"ceiling": f"{name} GFLOP/s, {engine} on {c.peak_case}", "precision": p,
                     "intensity": i, "gflops": g} for i in (start, hi)]
        labels.append({"kind": "compute", "precision": p, "text": name, "intensity": hi,
                       "gflops": y})
    for level, b, nbytes in bws:
        name = f"{level} {b:,.1f} GB/s ({nbytes / 2**20:g} MB)"
        end = min(hi, top / b)
        memory += [{"ceiling": name, "level": level, "intensity": i, "gflops": b * i}
                   for i in (lo, end)]
        labels.append({"kind": "memory", "text": name, "intensity": end, "gflops": b * end})
    precisions = tuple(p for p in PRECISION_CLASSES
                       if p in {q for q, _, _ in peaks} | {p["precision"] for p in points})
    return with_data(_roofline_template((lo, hi), y_domain, precisions), points=points,
                     compute=compute, memory=memory, labels=labels)


def _split_note(text: str) -> tuple[str, str]:
    """("107", "[3]") of a table text "107 [3]"; no note: (text, "")."""
    value, _, note = text.partition(" [")
    return value, f"[{note}" if note else ""


def _fastest(results: list[OpResult]) -> OpResult | None:
    ok = [r for r in results if r.status == "ok" and not r.implausible and r.time_us]
    return min(ok, key=lambda r: r.time_us.median) if ok else None  # type: ignore[union-attr]


def pivot(run: OpsRun, body: list[list[str]]) -> dict:
    """The op case x engine·precision view of the long table `body` (rows(run) in
    `ordered` order): each cell its median µs and roof % as the long table prints them,
    with the long table's footnote; the fastest plausible ok cell of a row is best."""
    results = ordered(run)
    columns = sorted({(r.engine, r.precision) for r in results},
                     key=lambda k: (PRECISION_CLASSES.index(k[1]), k[0]))
    by_case: dict[str, dict[tuple[str, str], tuple[OpResult, list[str]]]] = {}
    for r, row in zip(results, body, strict=True):
        by_case.setdefault(r.case, {})[(r.engine, r.precision)] = (r, row)
    out = []
    for case, cells in by_case.items():
        best = _fastest([r for r, _ in cells.values()])
        entries = []
        for col in columns:
            if col not in cells:
                entries.append({"text": "", "note": "", "best": False, "status": ""})
                continue
            r, row = cells[col]
            if r.status == "ok":
                pct, note = _split_note(row[8])
                text = row[4].partition(" ± ")[0] + "\u00a0µs"
                text += f" ·\u00a0{pct}%" if pct else ""
            else:
                text, note = _split_note(row[10])
            entries.append({"text": text, "note": note, "best": r is best,
                            "status": r.status})
        first = next(iter(cells.values()))[0]
        out.append({"case": case, "shape": first.shape, "cells": entries})
    return {"columns": [f"{e} · {p}" for e, p in columns], "rows": out}


def ops_section(run: OpsRun) -> dict:
    """What the operators page shows of one ops run: its ceilings, chart, pivot and the
    long table with its notes."""
    notes: list[str] = []
    body = ops_rows(run, notes)
    c = run.ceilings
    w = run.workload
    bws = memory_ceilings(c) if c else []
    return {"model": model_name(run), "run_id": run.run_id, "command": run.command,
            "date": run.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            "workload": f"prefill {w.prompt_tokens} tokens, KV cache {w.context}, "
                        f"{w.threads} threads, {w.warmups} warm-up calls, {w.reps} samples of "
                        f"at least {w.min_sample_ms:g} ms",
            "peaks": [(p, g, e, held_to_fp32(c, p)) for p, g, e in compute_ceilings(c)]
            if c else [],
            "bandwidths": [(level, b, f"{n / 2**20:g} MB") for level, b, n in bws],
            "peak_case": c.peak_case if c else "", "dram_gbs": c.dram_gbs if c else None,
            "chart": roofline_chart(run), "pivot": pivot(run, body), "rows": body,
            "notes": notes, "above_roof": sum(r.status == "ok" and (r.roofline_pct or 0) > 100
                                              for r in run.results),
            "no_op_api": sorted(run.no_op_api.items())}
