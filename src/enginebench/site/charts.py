"""Chart specifications (Vega-Lite, written with Altair): each chart is built once around
named datasets, and a page's rows are attached to a copy, so large data is not re-validated."""

import copy
import functools
import math
from collections.abc import Sequence
from typing import Any

import altair as alt

from enginebench.report.numbers import number
from enginebench.results.changes import ChangePoint
from enginebench.results.quality_gate import KL_MEAN_MAX, gate
from enginebench.results.schema import PRECISION_CLASSES, Run
from enginebench.site.records import cell_key, cell_label, is_sweep, slug

Spec = dict[str, Any]
KL_FLOOR = 1e-12  # KL is drawn on a log scale; smaller values (fp32 vs fp32) sit on the floor


def finite(value: object) -> object:
    """None for NaN and infinities: Vega's JSON must be valid, and one bare `NaN` stops
    every chart of the page from drawing."""
    return value if not isinstance(value, float) or math.isfinite(value) else None


def with_data(template: Spec, **datasets: list[dict]) -> Spec:
    """A copy of `template` with `datasets` attached, every non-finite number as null."""
    spec = copy.copy(template)
    spec["datasets"] = {name: [{k: finite(v) for k, v in row.items()} for row in rows]
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
def _trends_template(by_versions: bool) -> Spec:
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
    panels = [over_time("decode", "decode tok/s (median)"),
              over_time("prefill", "prefill tok/s (median)")]
    return alt.vconcat(*panels, *([by_version] if by_versions else [])).resolve_scale(
        color="independent").to_dict()


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
    versions: dict[str, set[str]] = {}
    for row in rows:
        versions.setdefault(row["engine"], set()).add(row["version"])
    by_versions = any(len(v) > 1 for v in versions.values())
    return with_data(_trends_template(by_versions), trend=rows, changes=steps) \
        if rows else None


def pareto_front(points: list[dict], x: str, y: str) -> list[dict]:
    """Points no other point beats on both: lower `x` and higher `y`."""
    front: list[dict] = []
    for p in sorted(points, key=lambda p: (p[x], -p[y])):
        if not front or p[y] > front[-1][y]:
            front.append(p)
    return front


# each precision class one colour family and one shape, the same on every chart; the
# engine's own variant (q4_0, q4_k_m, int8_float32) is in the tooltip and the label
CLASS_COLOURS = {"fp32": "#1f5fa8", "fp16": "#2e8b57", "bf16": "#7fb800", "int8": "#e07b00",
                 "int4": "#c0392b"}
CLASS_SHAPES = {"fp32": "circle", "fp16": "square", "bf16": "cross", "int8": "triangle-up",
                "int4": "diamond"}
GATE_KL = KL_MEAN_MAX  # the quality gate's KL bound, shaded on the KL chart
GATE_WORDS = {"pass": "past the gate", "reference": "the reference", "fail": "below the gate",
              "unmeasured": "quality not measured"}


@functools.cache
def _pareto_template(x: str, title: str, log: bool, gate_kl: float | None) -> Spec:
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    classes = list(CLASS_COLOURS)
    colours = alt.Scale(domain=classes, range=list(CLASS_COLOURS.values()))
    xenc = alt.X(f"{x}:Q", title=title, scale=scale)
    y = alt.Y("decode:Q", title="decode tok/s (median)")
    points = alt.Chart(alt.Data(name="points")).mark_point(size=90, strokeWidth=2).encode(
        x=xenc, y=y,
        color=alt.Color("pclass:N", title="precision class", scale=colours,
                        legend=alt.Legend(orient="bottom")),
        shape=alt.Shape("pclass:N", title="precision class",
                        scale=alt.Scale(domain=classes, range=list(CLASS_SHAPES.values())),
                        legend=alt.Legend(orient="bottom")),
        # filled: past the quality gate (or the reference); hollow: below it, or quantized
        # with quality not measured
        fill=alt.condition(alt.datum.counts, alt.Fill("pclass:N", scale=colours, legend=None),
                           alt.value("white")),
        href="href:N",
        tooltip=["cell:N", "pclass:N", alt.Tooltip("decode:Q", format=",.1f"),
                 alt.Tooltip(f"{x}_text:N", title=title), "gate:N"],
    )
    labels = alt.Chart(alt.Data(name="front")).mark_text(
        align="left", dx=8, dy=-8, fontSize=10).encode(x=xenc, y=y, text="cell:N",
                                                        href="href:N")
    front = alt.Chart(alt.Data(name="front")).mark_line(
        strokeDash=[4, 3], color="#555").encode(x=f"{x}:Q", y="decode:Q")
    layers: list[alt.Chart] = [front, points, labels]
    if gate_kl is not None:
        band = alt.Chart(alt.Data(name="gate")).mark_rect(color="#e6f4ea", opacity=0.7).encode(
            x=alt.X("lo:Q", scale=scale), x2="hi:Q")
        note = alt.Chart(alt.Data(name="gate")).mark_text(
            align="left", baseline="top", dx=4, dy=4, color="#2e7d32", fontSize=10).encode(
            x=alt.X("lo:Q", scale=scale), y=alt.value(0), text="label:N")
        layers = [band, note, *layers]
    return alt.layer(*layers).properties(width=500, height=300).to_dict()


def _kl_text(kl: float | None, reference: bool) -> str:
    """The KL a point's tooltip shows: a KL under the log axis's floor is drawn on it,
    and the tooltip says so (the reference against itself is 0)."""
    if kl is None:
        return "not measured"
    text = f"{kl:.3g}" + (" (the fp32 reference against itself)" if reference else "")
    return text + (f", drawn at {KL_FLOOR:g}: a log axis has no 0" if kl < KL_FLOOR else "")


def pareto_charts(run: Run, href: str) -> tuple[list[tuple[str, Spec]], list[str]]:
    """Decode tok/s against peak memory, and against KL from fp32 when measured, at the
    run's headline point: colour and shape by precision class, filled where the cell
    passes the quality gate, the front's points labelled, every point linking to `href`
    (the run page). A chart with fewer than two points is a sentence instead; returns
    (charts, sentences)."""
    base = []
    for c in run.headline_cells():
        d = c.metrics.decode_tps
        if c.status == "ok" and not c.implausible and d is not None:
            kl = c.quality.kl_mean if c.quality else None
            state = gate(c)
            base.append({"cell": f"{c.engine} {c.precision}", "pclass": c.precision_class,
                         "decode": d.median, "memory": c.metrics.peak_rss_mb,
                         "memory_text": number(c.metrics.peak_rss_mb, 0),
                         "kl": None if kl is None else max(kl, KL_FLOOR),
                         "kl_text": _kl_text(kl, state == "reference"),
                         "counts": state in ("pass", "reference"), "gate": GATE_WORDS[state],
                         "href": href})
    charts, sentences = [], []
    for x, title, log in (("memory", "peak RSS MB", False),
                          ("kl", "KL from fp32 (log; lower is better)", True)):
        pts = [p for p in base if p[x] is not None]
        if len(pts) < 2:
            if pts:
                sentences.append(f"decode tok/s against {title}: only {pts[0]['cell']} has "
                                 "both figures, so there is nothing to compare it with.")
            continue
        datasets = {"points": pts, "front": pareto_front(pts, x, "decode")}
        gate_kl = None
        if x == "kl":
            gate_kl = GATE_KL
            lo = min(min(p["kl"] for p in pts) / 2, GATE_KL / 10)
            datasets["gate"] = [{"lo": lo, "hi": GATE_KL,
                                 "label": f"the quality gate's KL bound ({GATE_KL:g}); "
                                          "filled points pass the whole gate"}]
        charts.append((title, with_data(_pareto_template(x, title, log, gate_kl),
                                        **datasets)))
    return charts, sentences


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

