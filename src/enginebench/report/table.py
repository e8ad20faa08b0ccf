"""A run as a table: rich for the terminal, or markdown, CSV or JSON text."""

import csv
import io
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from enginebench.report import safe
from enginebench.report.numbers import number
from enginebench.results.schema import Cell, Point, Run, Stat

FORMATS = ("table", "md", "csv", "json")
QUALITY_FIELDS = ("kl_mean", "kl_p99", "top1_agree_pct", "max_abs_logit_err",
                  "first_diff_token", "first_diff_min", "first_diff_median", "perplexity")
NOTE_CHARS = 400  # longer errors are cut in tables; the results file keeps the whole text
COLUMNS = ("engine", "precision", "device", "prefill tok/s", "decode tok/s ± sd",
           "decode CV %", "TTFT ms", "peak RSS MB", "KL mean", "top-1 %", "1st diff",
           "ppl", "roofline %", "status")


# a column whose name holds one of these is numeric (right-aligned)
NUMERIC = ("/s", "MB", "ms", "%", "us", "err")


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}"


def footnote(label: str, text: str, notes: list[str]) -> str:
    """Append `text` as a numbered footnote (cut to NOTE_CHARS); returns its marker."""
    if len(text) > NOTE_CHARS:
        text = f"{text[:NOTE_CHARS]}... (whole message in the results file)"
    notes.append(f"[{len(notes) + 1}] {label}: {text}")
    return f"[{len(notes)}]"


def _label(cell: Cell) -> str:
    return f"{cell.engine} {cell.precision}"


def _status(cell: Cell, notes: list[str]) -> str:
    """Short status for the table; the error text goes to a numbered footnote."""
    if cell.status == "ok":
        status = "ok" if cell.outputs_consistent is not False else "ok (reps differ)"
        if cell.implausible:
            status += f", IMPLAUSIBLE {footnote(_label(cell), cell.implausible, notes)}"
        return status
    if not cell.error:
        return cell.status
    return f"{cell.status} {footnote(_label(cell), cell.error, notes)}"


def first_diff_text(cell: Cell) -> str:
    """Where greedy output first leaves the reference's: `min / median` over the
    divergence prompts (a prompt that agrees throughout counts as its length, shown with
    a `+` when the median is that), else the run prompt's index (`none`: all agree)."""
    q = cell.quality
    if q is None:
        return ""
    if q.first_diff_min is not None and q.first_diff_median is not None:
        med = q.first_diff_median
        text = f"{med:g}+" if med == q.diverge_tokens else f"{med:g}"
        low = f"{q.first_diff_min}+" if q.first_diff_min == q.diverge_tokens else \
            str(q.first_diff_min)
        return f"{low} / {text}"
    return "none" if q.first_diff_token is None else str(q.first_diff_token)


def _quality(cell: Cell, notes: list[str]) -> list[str]:
    """KL mean, top-1 agreement, first differing token and perplexity, or where quality
    failed."""
    q = cell.quality
    if q is None:
        if cell.quality_error:
            why = footnote(_label(cell), "quality: " + cell.quality_error, notes)
            return [f"error {why}", "", "", ""]
        return ["", "", "", ""]
    ppl = "" if q.perplexity is None else f"{q.perplexity:.2f}"
    return [f"{q.kl_mean:.2e}", f"{q.top1_agree_pct:.1f}", first_diff_text(cell), ppl]


def _cv_text(s: Stat | None) -> str:
    if s is None:
        return ""
    text = _pct(s.cv)
    return f"{text} (rounds {_pct(s.round_cv)})" if s.round_cv is not None else text


def run_points(run: Run) -> list[Point]:
    """Every workload point of the run: the sweep's in its order, then any other point a
    cell has; a run of one point (every file written before sweeps) has its workload's."""
    points = dict.fromkeys([*run.workload.points, *(run.point(c) for c in run.cells)])
    return list(points) or [run.headline_point()]


def points_text(run: Run) -> str:
    """`pp128 tg128` for a run of one point (`b4` added at a batch); for a sweep, each
    axis's values: `pp 128, 512, 1920 x tg 128 x batch 1, 4`."""
    points = run_points(run)
    if len(points) == 1:
        p = points[0]
        return f"pp{p.prompt_tokens} tg{p.new_tokens}" + (f" b{p.batch}" if p.batch > 1 else "")
    axes = [list(dict.fromkeys(getattr(p, name) for p in points))
            for name in ("prompt_tokens", "new_tokens", "batch")]
    if len(axes[0]) * len(axes[1]) * len(axes[2]) != len(points):  # not a full product
        return f"{len(points)} points: " + ", ".join(p.label for p in points)
    return " x ".join(f"{name} {', '.join(map(str, values))}"
                      for name, values in zip(("pp", "tg", "batch"), axes, strict=True))


def columns(run: Run) -> tuple[str, ...]:
    """COLUMNS, with the point and the per-sequence decode rate where the run sweeps."""
    cols = COLUMNS
    if len(run_points(run)) > 1:
        cols = (*cols[:3], "point", *cols[3:])
    if any(p.batch > 1 for p in run_points(run)):
        at = cols.index("decode CV %") + 1
        cols = (*cols[:at], "per seq tok/s", *cols[at:])
    return cols


def ran_peak_rss(c: Cell) -> float | None:
    """Peak RSS of a cell that ran; a failed, timed-out or refused attempt's high-water mark
    is not the workload's (the run file keeps it all the same)."""
    return c.metrics.peak_rss_mb if c.status == "ok" else None


def rows(run: Run, notes: list[str]) -> list[list[str]]:
    """One row per cell; error messages are appended to `notes` as footnotes."""
    out = []
    cols = columns(run)
    for c in run.cells:
        m = c.metrics
        dec = m.decode_tps
        point = [run.point(c).label] if "point" in cols else []
        per_seq = [number(m.seq_decode_tps.median if m.seq_decode_tps else None)] \
            if "per seq tok/s" in cols else []
        out.append([
            c.engine, c.precision, c.device, *point,
            number(m.prefill_tps.median if m.prefill_tps else None),
            f"{dec.median:,.1f} ± {dec.sd:,.1f}" if dec else "",
            _cv_text(dec),
            *per_seq,
            number(m.ttft_ms.median if m.ttft_ms else None),
            number(ran_peak_rss(c), 0),
            *_quality(c, notes),
            number(m.roofline_pct, 0),
            _status(c, notes),
        ])
    return out


def _title(run: Run) -> str:
    w = run.workload
    return (f"{run.model.get('name')} ({run.model.get('params', 0) / 1e6:.1f}M params) on "
            f"{run.machine.label}: {points_text(run)}, {w.threads} threads, "
            f"{w.reps} reps x {w.rounds} rounds, {run.created_at:%Y-%m-%d %H:%M} UTC"
            + (f", {run.wall_s / 60:.1f} min wall" if run.wall_s is not None else ""))


def _csv(run: Run) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    stats = ("prefill_tps", "decode_tps", "seq_decode_tps", "ttft_ms", "e2e_ms")
    writer.writerow(["run_id", "machine", "model", "engine", "engine_version", "precision",
                     "precision_class", "device", "prompt_tokens", "new_tokens", "batch",
                     "status", "error", "threads",
                     *[f"{s}_{k}" for s in stats for k in ("median", "mean", "sd", "cv")],
                     "itl_ms_p50", "itl_ms_p90", "itl_ms_p99", "peak_rss_mb", "load_s",
                     "convert_s", "artifact_bytes", *QUALITY_FIELDS, "roofline_tps",
                     "roofline_pct", "implausible"])
    for c in run.cells:
        m = c.metrics
        values = []
        for s in stats:
            st: Stat | None = getattr(m, s)
            values += [st.median, st.mean, st.sd, st.cv] if st else ["", "", "", ""]
        itl = [m.itl_ms.p50, m.itl_ms.p90, m.itl_ms.p99] if m.itl_ms else ["", "", ""]
        writer.writerow(safe.csv_row([
            run.run_id, run.machine.label, run.model.get("name"), c.engine, c.engine_version,
            c.precision, c.precision_class, c.device, *run.point(c).model_dump().values(),
            c.status, c.error, run.workload.threads,
            *values, *itl, m.peak_rss_mb, m.load_s, m.convert_s, m.artifact_bytes,
            *[getattr(c.quality, f) if c.quality else "" for f in QUALITY_FIELDS],
            m.roofline_tps, m.roofline_pct, c.implausible]))
    return buf.getvalue()


def markdown(title: str, columns: tuple[str, ...], body: list[list[str]],
             notes: list[str]) -> str:
    """A titled markdown table with its numbered notes under it; every text is escaped
    (safe.md)."""
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(safe.md(x) for x in cells) + " |"

    out = [f"**{safe.md(title)}**", "", line(list(columns)), line(["---"] * len(columns))]
    out += [line(r) for r in body]
    if notes:
        out += [""] + [safe.md(n) + "  " for n in notes]
    return "\n".join(out) + "\n"


def print_table(title: str, columns: tuple[str, ...], body: list[list[str]],
                notes: list[str], console: Console | None) -> None:
    """A titled rich table (numbers right-aligned) and its numbered notes, on `console`.
    Every text is a rich Text with its control characters stripped (safe.term): no markup
    is read and no escape sequence reaches the terminal."""
    table = Table(title=safe.term(title), title_justify="left")
    for col in columns:
        table.add_column(col, justify="right" if any(u in col for u in NUMERIC) else "left",
                         overflow="fold")
    for r in body:
        table.add_row(*(safe.term(x) for x in r))
    console = console or Console()
    console.print(table)
    for note in notes:
        console.print(safe.term(note))


def render_as(doc: object, fmt: str, console: Console | None, title: str,
              columns: tuple[str, ...], rows: Callable[[list[str]], list[list[str]]],
              csv_text: Callable[[], str]) -> str | None:
    """A results document in `fmt`: JSON, CSV, markdown, or a rich table printed to
    `console` (then None). `rows` appends its notes to the list it is given."""
    if fmt == "json":
        return safe.json_text(doc.model_dump_json(indent=1)) + "\n"
    if fmt == "csv":
        return csv_text()
    notes: list[str] = []
    body = rows(notes)
    if fmt == "md":
        return markdown(title, columns, body, notes)
    print_table(title, columns, body, notes, console)
    return None


def render(run: Run, fmt: str, console: Console | None = None) -> str | None:
    """Text of the run in `fmt`; for "table", prints it to `console` and returns None."""
    return render_as(run, fmt, console, _title(run), columns(run),
                     lambda notes: rows(run, notes),
                     lambda: _csv(run))
