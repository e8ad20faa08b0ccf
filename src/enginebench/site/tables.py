"""A run's cells as table rows for the site: formatted figures, the best of each column
marked among the cells that may be crowned (ok, plausible, past the quality gate), the fp32
reference's quality figures labelled `reference`, and every failure, unsupported precision,
implausible figure or failed gate as a footnote."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from enginebench.report.numbers import number
from enginebench.report.peak_rss import peak_rss_notes
from enginebench.report.table import first_diff_text, ran_peak_rss
from enginebench.results.quality_gate import gate_failure, is_reference, may_be_best
from enginebench.results.schema import Cell


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Cell], float | None]
    text: Callable[[Cell], str]
    better: Literal["max", "min"] | None = None
    optional: bool = False  # shown only when some cell of the run has a value
    quality: bool = False  # against the reference: the reference's own entry says so


def _median(name: str) -> Callable[[Cell], float | None]:
    def get(c: Cell) -> float | None:
        stat = getattr(c.metrics, name)
        return stat.median if stat else None
    return get


def _decode_text(c: Cell) -> str:
    d = c.metrics.decode_tps
    if d is None:
        return ""
    return f"{d.median:,.1f} ± {d.sd:,.1f}" if d.samples else f"{d.median:,.1f} (median only)"


def _quality(name: str) -> Callable[[Cell], float | None]:
    return lambda c: getattr(c.quality, name) if c.quality else None


COLUMNS = (
    Column("decode tok/s (median ± sd)", _median("decode_tps"), _decode_text, "max"),
    Column("per-seq decode tok/s", _median("seq_decode_tps"),
           lambda c: number(_median("seq_decode_tps")(c)), "max", optional=True),
    Column("prefill tok/s", _median("prefill_tps"), lambda c: number(_median("prefill_tps")(c)),
           "max"),
    Column("TTFT ms", _median("ttft_ms"), lambda c: number(_median("ttft_ms")(c)), "min"),
    Column("peak RSS MB", ran_peak_rss, lambda c: number(ran_peak_rss(c), 0), "min"),
    Column("KL mean", _quality("kl_mean"),
           lambda c: f"{c.quality.kl_mean:.2e}" if c.quality else "", "min", optional=True,
           quality=True),
    Column("top-1 %", _quality("top1_agree_pct"),
           lambda c: number(_quality("top1_agree_pct")(c)), "max", optional=True,
           quality=True),
    Column("1st diff (min / median)", _quality("first_diff_median"), first_diff_text, "max",
           optional=True, quality=True),
    Column("perplexity", _quality("perplexity"),
           lambda c: number(_quality("perplexity")(c)), "min", optional=True),
    Column("roofline %", lambda c: c.metrics.roofline_pct,
           lambda c: number(c.metrics.roofline_pct, 0), "max", optional=True),
)


@dataclass
class Entry:
    text: str
    best: bool = False


@dataclass
class Row:
    engine: str
    version: str
    precision: str
    device: str
    status: str
    entries: list[Entry]
    notes: list[int] = field(default_factory=list)  # footnote numbers
    reason: str = ""  # the whole footnote text, for the hover title
    pclass: str = ""  # the precision class, for the table's filter


@dataclass
class CellTable:
    headers: list[str]
    rows: list[Row]
    notes: list[str]


def _comparable(c: Cell, col: Column) -> bool:
    """The cell's figure in `col` may be marked best: an ok, plausible cell past the
    quality gate, and not the reference in a column measured against itself."""
    return c.status == "ok" and not c.implausible and may_be_best(c) \
        and not (col.quality and is_reference(c))


def _best(cells: list[Cell], col: Column) -> float | None:
    values = [v for c in cells if _comparable(c, col) and (v := col.value(c)) is not None]
    if not values or col.better is None or len(values) < 2:
        return None
    return max(values) if col.better == "max" else min(values)


def _reasons(c: Cell) -> list[str]:
    out = []
    if c.status != "ok":
        out.append(f"{c.status}: {c.error or 'no message recorded'}")
    if c.implausible:
        out.append(f"implausible: {c.implausible}")
    if c.quality_error:
        out.append(f"quality not measured: {c.quality_error}")
    if c.outputs_consistent is False:
        out.append("repetitions generated different ids")
    if c.status == "ok" and (below := gate_failure(c)):
        out.append(below)
    out.extend(peak_rss_notes(c))
    return out


def _text(c: Cell, col: Column) -> str:
    return "reference" if col.quality and is_reference(c) else col.text(c)


def cell_table(cells: list[Cell]) -> CellTable:
    """One row per cell, in the order given (cells of one run at one workload point: the
    best of a column is marked among them); empty optional columns are left out."""
    cols = [col for col in COLUMNS
            if not col.optional or any(col.value(c) is not None for c in cells)]
    best = {col.header: _best(cells, col) for col in cols}
    notes: list[str] = []
    rows = []
    for c in cells:
        entries = [Entry(_text(c, col), _comparable(c, col) and best[col.header] is not None
                         and col.value(c) == best[col.header]) for col in cols]
        reasons = _reasons(c)
        refs = []
        for text in reasons:
            notes.append(f"{c.engine} {c.precision}: {text}")
            refs.append(len(notes))
        status = c.status + (", implausible" if c.implausible else "") + (
            ", below quality gate" if c.status == "ok" and gate_failure(c) else "")
        rows.append(Row(c.engine, c.engine_version or "", c.precision, c.device, status,
                        entries, refs, "\n".join(reasons), c.precision_class))
    return CellTable([col.header for col in cols], rows, notes)
