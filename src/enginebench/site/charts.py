"""Chart specifications (Vega-Lite, written with Altair): each chart is built once around
named datasets, and a page's rows are attached to a copy, so large data is not re-validated."""

import copy
import functools
from typing import Any

import altair as alt

from enginebench.results.schema import Run
from enginebench.site.records import cell_key, slug

Spec = dict[str, Any]
KL_FLOOR = 1e-12  # KL is drawn on a log scale; smaller values (fp32 vs fp32) sit on the floor


def with_data(template: Spec, **datasets: list[dict]) -> Spec:
    spec = copy.copy(template)
    spec["datasets"] = datasets
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
    """Every raw sample of every ok cell: decode and prefill tok/s, outliers flagged."""
    rows = []
    for c in run.cells:
        for metric, stat in (("decode tok/s", c.metrics.decode_tps),
                             ("prefill tok/s", c.metrics.prefill_tps)):
            if stat is None:
                continue
            rows += [{"cell": cell_key(c), "metric": metric, "rep": i, "value": v,
                      "flag": "outlier" if i in stat.outliers else "kept"}
                     for i, v in enumerate(stat.samples)]
    return with_data(_samples_template(), samples=rows) if rows else None


@functools.cache
def _trends_template() -> Spec:
    base = alt.Chart(alt.Data(name="trend"))

    def over_time(field: str, title: str) -> alt.Chart:
        return base.mark_line(point=True, strokeWidth=1.5).encode(
            x=alt.X("date:T", title="run date (UTC)",
                    axis=alt.Axis(format="%Y-%m-%d %H:%M", labelAngle=-30, tickCount=8)),
            y=alt.Y(f"{field}:Q", title=title),
            color=alt.Color("engine:N", title="engine"),
            detail="cell:N",
            href="href:N",
            tooltip=["cell:N", "version:N", "date:T", alt.Tooltip(f"{field}:Q", format=",.1f"),
                     "run:N"],
        ).properties(width=560, height=220)

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


def trends_chart(runs: list[Run], href: str) -> Spec | None:
    """Decode and prefill medians of every ok cell over time, and decode over engine versions.
    `href` is the run page address with `{run_id}` in it."""
    rows = []
    for run in runs:
        for c in run.cells:
            m = c.metrics
            if c.status != "ok" or m.decode_tps is None or m.prefill_tps is None:
                continue
            rows.append({"date": run.created_at.isoformat(), "cell": cell_key(c),
                         "engine": c.engine, "precision": c.precision,
                         "version": c.engine_version or "?",
                         "decode": round(m.decode_tps.median, 3),
                         "prefill": round(m.prefill_tps.median, 3), "run": run.run_id,
                         "href": href.format(run_id=slug(run.run_id))})
    return with_data(_trends_template(), trend=rows) if rows else None


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
    """Decode tok/s against peak memory, and against KL from fp32 when measured."""
    base = []
    for c in run.cells:
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
