"""The Scaling page of one machine and model: its latest sweep run's prefill and decode rates
and memory against prompt length, depth and batch, as charts and as a table of every cell."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from enginebench.report.numbers import number
from enginebench.report.table import run_points
from enginebench.results.schema import Cell, Metrics, Point, Run
from enginebench.site.charts import Spec, scaling_chart
from enginebench.site.records import Results, cell_key, is_sweep, model_name, slug

LOG_SPAN = 4  # an x axis whose values span more than this factor is drawn on a log scale


def page(machine: str, model: str) -> str:
    """The Scaling page's source file of a machine and model, relative to the site's root."""
    return f"scaling/{slug(machine)}/{slug(model)}.md"


def href(machine: str, model: str, up: str = "") -> str:
    """The address of that page from a page `up` (`../`) below the site's root."""
    return up + page(machine, model).removesuffix(".md") + ".html"


def latest_sweeps(results: Results) -> dict[tuple[str, str], Run]:
    """(machine, model) -> its latest run whose cells span more than one point."""
    out: dict[tuple[str, str], Run] = {}
    for run in results.runs:  # oldest first: the last one stays
        if is_sweep(run):
            out[(run.machine.label, model_name(run))] = run
    return out


def _median(name: str) -> Callable[[Metrics], float | None]:
    def get(m: Metrics) -> float | None:
        stat = getattr(m, name)
        return stat.median if stat else None
    return get


@dataclass(frozen=True)
class Axis:
    """One chart: a metric against prompt length (the other axes held) or against batch."""

    id: str
    title: str
    x: Literal["prompt_tokens", "batch"]
    y_title: str
    value: Callable[[Metrics], float | None]
    better: Literal["max", "min"]
    text: str  # what the chart shows; {held} is replaced by the point's held values


AXES = (
    Axis("prefill", "Prefill against prompt length", "prompt_tokens", "prefill tok/s",
         _median("prefill_tps"), "max",
         "Prompt tokens processed per second (P over the time to the first token), against "
         "the prompt length P, {held}."),
    Axis("depth", "Decode at depth", "prompt_tokens", "decode tok/s", _median("decode_tps"),
         "max",
         "Decode tok/s of the new tokens generated after a prompt of P tokens, against P, "
         "{held}: every decode step reads a KV cache at least P deep, so this is decode at "
         "depth P (ppP + tgN is llama-bench's tgN @ dP: pp2048 + tg128 is tg128 @ d2048)."),
    Axis("batch", "Aggregate decode against batch", "batch", "aggregate decode tok/s",
         _median("decode_tps"), "max",
         "B sequences decoded together: tok/s over all of them, B x (N - 1) over the decode "
         "time, against B, {held}. The tooltip gives each sequence's own rate."),
    Axis("memory", "Peak memory against depth", "prompt_tokens", "peak RSS MB",
         lambda m: m.peak_rss_mb, "min",
         "Peak resident memory of the cell's process, against the prompt length P, {held}."),
)
X_TITLES = {"prompt_tokens": "prompt length P (tokens)", "batch": "batch B (sequences)"}
X_NAMES = {"prompt_tokens": ("P", "prompt length"), "batch": ("B", "batch size")}


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    text: str
    spec: Spec


@dataclass(frozen=True)
class Row:
    engine: str
    precision: str
    point: str
    status: str
    values: list[str]  # empty where the cell did not run: `reason` says why
    reason: str  # the error of a cell that did not run, or why its figure is implausible


@dataclass(frozen=True)
class Scaling:
    machine: str
    model: str
    run: Run
    charts: list[Chart]
    missing: list[str]  # the charts the run's points cannot draw, and why
    headers: list[str]
    rows: list[Row]


def _drawn(c: Cell) -> bool:
    return c.status == "ok" and not c.implausible


def _held(points: list[Point], x: str) -> dict[str, int]:
    """The values of the other axes a chart holds: batch 1 (else the smallest batch) and the
    first N for prompt-length charts, the shortest prompt and the first N for batch."""
    held = {"new_tokens": points[0].new_tokens}
    if x == "prompt_tokens":
        held["batch"] = min(p.batch for p in points)
    else:
        held["prompt_tokens"] = min(p.prompt_tokens for p in points)
    return held


def _held_text(held: dict[str, int]) -> str:
    words = {"prompt_tokens": "pp{}", "new_tokens": "tg{}", "batch": "batch {}"}
    return "at " + ", ".join(words[k].format(v) for k, v in held.items())


def _chart(run: Run, axis: Axis, points: list[Point]) -> Chart | str:
    """The axis's chart of the run's ok cells, or why the run's points cannot draw it."""
    held = _held(points, axis.x)
    where = _held_text(held)
    lines = []
    for c in run.cells:
        p = run.point(c)
        y = axis.value(c.metrics)
        if not _drawn(c) or y is None or any(getattr(p, k) != v for k, v in held.items()):
            continue
        seq = c.metrics.seq_decode_tps
        lines.append({"cell": cell_key(c), "x": getattr(p, axis.x), "y": y,
                      "point": p.label, "seq": seq.median if seq else y})
    xs = sorted({row["x"] for row in lines})
    if len(xs) < 2:
        return f"{axis.title}: the run's ok cells {where} have " + (
            f"one {X_NAMES[axis.x][1]} ({xs[0]})" if xs else "no figure") + "."
    at_end = [row for row in lines if row["x"] == xs[-1]]
    pick = max if axis.better == "max" else min
    top = pick(at_end, key=lambda row: row["y"])
    best = {**top, "label": f"best at {X_NAMES[axis.x][0]}={top['x']}: {top['cell']}, "
                            f"{number(top['y'])}"}
    spec = scaling_chart(X_TITLES[axis.x], axis.y_title, xs[-1] / xs[0] > LOG_SPAN,
                         tuple(xs), axis.id == "batch", lines, [best])
    return Chart(axis.id, axis.title, axis.text.format(held=where), spec)


HEADERS = ["engine", "precision", "point", "decode tok/s", "prefill tok/s", "TTFT ms",
           "per-seq tok/s", "peak RSS MB", "status"]


def _row(run: Run, c: Cell) -> Row:
    m = c.metrics
    precision = cell_key(c).removeprefix(f"{c.engine} ")
    status = c.status + (", implausible" if c.implausible else "")
    reason = (c.error or "no message recorded") if c.status != "ok" else (
        f"implausible: {c.implausible}" if c.implausible else "")
    values = [] if c.status != "ok" else [
        number(_median("decode_tps")(m)), number(_median("prefill_tps")(m)),
        number(_median("ttft_ms")(m)), number(_median("seq_decode_tps")(m)),
        number(m.peak_rss_mb, 0)]
    return Row(c.engine, precision, run.point(c).label, status, values, reason)


def build(machine: str, model: str, run: Run) -> Scaling:
    """The page of `run`, the latest sweep of `model` on `machine`: a chart per axis the
    run's points span, and its cells by engine and precision, each through its points."""
    points = run_points(run)
    charts, missing = [], []
    for axis in AXES:
        made = _chart(run, axis, points)
        (charts if isinstance(made, Chart) else missing).append(made)
    order = {p: i for i, p in enumerate(points)}
    keys = {k: i for i, k in enumerate(dict.fromkeys(cell_key(c) for c in run.cells))}
    cells = sorted(run.cells, key=lambda c: (keys[cell_key(c)], order[run.point(c)]))
    return Scaling(machine, model, run, charts, missing, HEADERS,
                   [_row(run, c) for c in cells])
