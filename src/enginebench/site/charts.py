"""Chart specifications (Vega-Lite, written with Altair): each chart is built once around
named datasets, and a page's rows are attached to a copy, so large data is not re-validated."""

import copy
import functools
import math
from collections.abc import Sequence
from typing import Any

import altair as alt

from enginebench.results.changes import ChangePoint
from enginebench.results.schema import PRECISION_CLASSES, OpsRun, Run
from enginebench.site.records import cell_key, cell_label, is_sweep, slug

Spec = dict[str, Any]
KL_FLOOR = 1e-12  # KL is drawn on a log scale; smaller values (fp32 vs fp32) sit on the floor


def _finite(value: object) -> object:
    """None for NaN and infinities: Vega's JSON must be valid, and one bare `NaN` stops
    every chart of the page from drawing."""
    return value if not isinstance(value, float) or math.isfinite(value) else None


def with_data(template: Spec, **datasets: list[dict]) -> Spec:
    """A copy of `template` with `datasets` attached, every non-finite number as null."""
    spec = copy.copy(template)
    spec["datasets"] = {name: [{k: _finite(v) for k, v in row.items()} for row in rows]
                        for name, rows in datasets.items()}
    return spec


@functools.cache
def _samples_template() -> Spec:
    base = alt.Chart(alt.Data(name="samples"))

    def panel(metric: str) -> alt.Chart:
        return base.transform_filter(alt.datum.metric == metric).mark_tick(
            thickness=2, size=14).encode(
            x=alt.X("value:Q", title=metric, scale=alt.Scale(zero=False)),
            y=alt.Y("cell:N", title=None, sort=None),
            color=alt.Color("flag:N", title="sample",
                            scale=alt.Scale(domain=["kept", "outlier"],
                                            range=["#3465a4", "#cc0000"])),
            tooltip=["cell:N", "rep:Q", alt.Tooltip("value:Q", format=",.2f"), "flag:N"],
        ).properties(width=260)
    return alt.hconcat(panel("decode tok/s"), panel("prefill tok/s")).to_dict()


def samples_chart(run: Run) -> Spec | None:
    """Every raw sample of every ok cell: decode and prefill tok/s, outliers flagged (a
    sweep's cells named with their point)."""
    rows = []
    sweep = is_sweep(run)
    for c in run.cells:
        name = cell_label(run, c, sweep)
        for metric, stat in (("decode tok/s", c.metrics.decode_tps),
                             ("prefill tok/s", c.metrics.prefill_tps)):
            if stat is None:
                continue
            rows += [{"cell": name, "metric": metric, "rep": i, "value": v,
                      "flag": "outlier" if i in stat.outliers else "kept"}
                     for i, v in enumerate(stat.samples)]
    return with_data(_samples_template(), samples=rows) if rows else None


@functools.cache
def _trends_template() -> Spec:
    base = alt.Chart(alt.Data(name="trend"))
    steps = alt.Chart(alt.Data(name="changes"))

    def over_time(field: str, title: str) -> alt.LayerChart:
        x = alt.X("date:T", title="run date (UTC)",
                  axis=alt.Axis(format="%Y-%m-%d %H:%M", labelAngle=-30, tickCount=8))
        lines = base.mark_line(point=True, strokeWidth=1.5).encode(
            x=x, y=alt.Y(f"{field}:Q", title=title),
            color=alt.Color("engine:N", title="engine"),
            # engine x precision: the colour is the engine, the dash its precision class
            strokeDash=alt.StrokeDash("pclass:N", title="precision class",
                                      sort=list(PRECISION_CLASSES)),
            detail="cell:N",
            href="href:N",
            tooltip=["cell:N", "version:N", "date:T", alt.Tooltip(f"{field}:Q", format=",.1f"),
                     "point:N", "run:N"],
        )
        # a change point: a dashed rule at the first run of the new step
        rules = steps.transform_filter(alt.datum.metric == field).mark_rule(
            strokeDash=[4, 3], color="#b00020").encode(
            x=x, href="href:N",
            tooltip=[alt.Tooltip("cell:N", title="change point"), "date:T",
                     alt.Tooltip("change:Q", title="change %", format="+.1f"), "cause:N"])
        return alt.layer(lines, rules).properties(width=560, height=220)

    by_version = base.mark_line(point=True).encode(
        x=alt.X("version:O", title="engine version", sort=alt.EncodingSortField(
            "date", op="min")),
        y=alt.Y("median(decode):Q", title="decode tok/s (median of runs)"),
        color=alt.Color("precision:N", title="precision"),
        tooltip=["engine:N", "version:N", "precision:N",
                 alt.Tooltip("median(decode):Q", format=",.1f"), alt.Tooltip("count():Q",
                                                                           title="runs")],
    ).properties(width=160, height=160).facet(facet=alt.Facet("engine:N", title=None),
                                              columns=3).resolve_scale(x="independent")
    return alt.vconcat(over_time("decode", "decode tok/s (median)"),
                       over_time("prefill", "prefill tok/s (median)"),
                       by_version).resolve_scale(color="independent").to_dict()


TREND_FIELDS = {"decode_tps": "decode", "prefill_tps": "prefill"}


def trends_chart(runs: list[Run], href: str, changes: Sequence[ChangePoint] = ()
                 ) -> Spec | None:
    """Decode and prefill medians of every ok cell over time, and decode over engine versions,
    one point per run (a sweep's headline point), with the change points found in them
    drawn as dashed rules. `href` is the run page address with `{run_id}` in it."""
    rows = []
    for run in runs:
        point = run.headline_point().label
        for c in run.headline_cells():
            m = c.metrics
            if c.status != "ok" or m.decode_tps is None or m.prefill_tps is None:
                continue
            rows.append({"date": run.created_at.isoformat(), "cell": cell_key(c),
                         "engine": c.engine, "precision": c.precision,
                         "pclass": c.precision_class, "version": c.engine_version or "?",
                         "decode": round(m.decode_tps.median, 3),
                         "prefill": round(m.prefill_tps.median, 3), "run": run.run_id,
                         "point": point,
                         "href": href.format(run_id=slug(run.run_id))})
    dates = {r.run_id: r.created_at.isoformat() for r in runs}
    steps = [{"date": dates[p.run_id], "metric": TREND_FIELDS[p.metric], "cell": p.cell,
              "change": round(p.change_pct, 2), "cause": p.cause,
              "href": href.format(run_id=slug(p.run_id))}
             for p in changes if p.run_id in dates]
    return with_data(_trends_template(), trend=rows, changes=steps) if rows else None


def pareto_front(points: list[dict], x: str, y: str) -> list[dict]:
    """Points no other point beats on both: lower `x` and higher `y`."""
    front: list[dict] = []
    for p in sorted(points, key=lambda p: (p[x], -p[y])):
        if not front or p[y] > front[-1][y]:
            front.append(p)
    return front


@functools.cache
def _pareto_template(x: str, title: str, log: bool) -> Spec:
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    points = alt.Chart(alt.Data(name="points")).mark_point(filled=True, size=80).encode(
        x=alt.X(f"{x}:Q", title=title, scale=scale),
        y=alt.Y("decode:Q", title="decode tok/s (median)"),
        color=alt.Color("engine:N"), shape=alt.Shape("precision:N"),
        tooltip=["engine:N", "precision:N", alt.Tooltip("decode:Q", format=",.1f"),
                 alt.Tooltip(f"{x}:Q", format=",.3g")],
    )
    front = alt.Chart(alt.Data(name="front")).mark_line(
        strokeDash=[4, 3], color="#555").encode(x=f"{x}:Q", y="decode:Q")
    return alt.layer(front, points).properties(width=560, height=300).to_dict()


def pareto_charts(run: Run) -> list[tuple[str, Spec]]:
    """Decode tok/s against peak memory, and against KL from fp32 when measured, at the
    run's headline point."""
    base = []
    for c in run.headline_cells():
        d = c.metrics.decode_tps
        if c.status == "ok" and not c.implausible and d is not None:
            base.append({"engine": c.engine, "precision": c.precision, "decode": d.median,
                         "memory": c.metrics.peak_rss_mb,
                         "kl": max(c.quality.kl_mean, KL_FLOOR) if c.quality else None})
    out = []
    for x, title, log in (("memory", "peak RSS MB", False),
                          ("kl", "KL from fp32 (log; lower is better)", True)):
        pts = [p for p in base if p[x] is not None]
        if pts:
            out.append((title, with_data(_pareto_template(x, title, log), points=pts,
                                         front=pareto_front(pts, x, "decode"))))
    return out


@functools.cache
def _scaling_template(x_title: str, y_title: str, log: bool, ticks: tuple[int, ...],
                      per_seq: bool) -> Spec:
    scale = alt.Scale(type="log" if log else "linear", zero=False, nice=False, padding=16)
    x = alt.X("x:Q", title=x_title + (" (log)" if log else ""), scale=scale,
              axis=alt.Axis(values=list(ticks), format="d", grid=False))
    y = alt.Y("y:Q", title=y_title)
    color = alt.Color("cell:N", title="engine precision", scale=alt.Scale(scheme="tableau20"))
    tooltip = ["cell:N", "point:N", alt.Tooltip("y:Q", title=y_title, format=",.1f")]
    if per_seq:
        tooltip.append(alt.Tooltip("seq:Q", title="per-sequence decode tok/s", format=",.1f"))
    lines = alt.Chart(alt.Data(name="lines")).mark_line(point=True, strokeWidth=1.5).encode(
        x=x, y=y, color=color, tooltip=tooltip)
    best = alt.Chart(alt.Data(name="best"))
    marker = best.mark_point(filled=True, size=260, shape="diamond", stroke="#000",
                             strokeWidth=1.5, opacity=1).encode(x=x, y=y, color=color,
                                                                tooltip=tooltip)
    label = best.mark_text(align="right", dx=-12, dy=-12, fontWeight="bold").encode(
        x=x, y=y, text="label:N")
    return alt.layer(lines, marker, label).properties(width=560, height=260).to_dict()


def scaling_chart(x_title: str, y_title: str, log: bool, ticks: tuple[int, ...],
                  per_seq: bool, lines: list[dict], best: list[dict]) -> Spec:
    """One line per engine x precision (`lines`: cell, x, y, point, seq), the best cell at
    the largest x marked and labelled (`best`: one such row and its label)."""
    return with_data(_scaling_template(x_title, y_title, log, ticks, per_seq),
                     lines=lines, best=best)


@functools.cache
def _roofline_template() -> Spec:
    log = alt.Scale(type="log")
    x = alt.X("intensity:Q", title="arithmetic intensity (FLOP per byte moved, log)",
              scale=log)
    y = alt.Y("gflops:Q", title="GFLOP/s (log)", scale=log)
    roofs = alt.Chart(alt.Data(name="roofs")).mark_line(strokeWidth=1.5).encode(
        x=x, y=y, strokeDash=alt.StrokeDash("roof:N", title="ceiling"),
        color=alt.value("#555"), tooltip=["roof:N"])
    points = alt.Chart(alt.Data(name="points")).mark_point(filled=True, size=70).encode(
        x=x, y=y, color=alt.Color("engine:N"), shape=alt.Shape("op:N"),
        tooltip=["case:N", "engine:N", "precision:N", "shape:N",
                 alt.Tooltip("time_us:Q", title="median us", format=",.1f"),
                 alt.Tooltip("gflops:Q", format=",.2f"),
                 alt.Tooltip("pct:Q", title="% of roof", format=",.0f")])
    return alt.layer(roofs, points).properties(width=620, height=380).to_dict()


def roofline_chart(run: OpsRun) -> Spec | None:
    """Every ok result at its intensity and GFLOP/s, under the fp32 compute ceiling and the
    memory ceilings at the smallest and largest working sets measured."""
    c = run.ceilings
    points = [{"case": r.case, "engine": r.engine, "precision": r.precision, "op": r.op,
               "shape": r.shape, "intensity": r.intensity, "gflops": r.gflops,
               "time_us": r.time_us.median if r.time_us else None, "pct": r.roofline_pct}
              for r in run.results if r.status == "ok" and r.gflops]
    if not points or c is None:
        return None
    xs = sorted(p["intensity"] for p in points)
    lo, hi = xs[0] / 2, xs[-1] * 2
    peak = c.peak_gflops.get("fp32")
    roofs = []
    bw_points = sorted((c.bandwidth or {}).get("points") or [], key=lambda p: p["bytes"])
    for label, point in (("cache", bw_points[:1]), ("DRAM", bw_points[-1:])):
        if not point:
            continue
        gbs = max(v for k, v in point[0].items() if k.endswith("_gbs"))
        name = f"{gbs:.0f} GB/s at {point[0]['bytes'] >> 20} MB ({label})"
        if peak:
            name += f", fp32 peak {peak:.0f} GFLOP/s"
        roofs += [{"roof": name, "intensity": i, "gflops": min(gbs * i, peak or math.inf)}
                  for i in sorted({lo, hi, *([peak / gbs] if peak else [])})]
    return with_data(_roofline_template(), points=points, roofs=roofs)
