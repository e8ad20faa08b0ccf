"""A comparison of two runs (results/compare.py) as a rich table, markdown, CSV or JSON."""

import csv
import io
import json

from rich.console import Console

from enginebench.report import safe
from enginebench.report.numbers import number
from enginebench.report.table import markdown, print_table
from enginebench.results.compare import METRICS, Comparison, Row

COLUMNS = ("engine", "precision", "device", "model", "point", "metric", "base", "new",
           "new/base", "95% CI", "p (MWU)", "n", "verdict")
FIELDS = ("engine", "precision", "device", "model", "point", "metric", "base", "new", "ratio",
          "ci95_low", "ci95_high", "p_value", "n_base", "n_new", "verdict", "why")


def _ratio(x: float | None) -> str:
    return "" if x is None else f"{x:.3f}"


def _cells(r: Row) -> list[str]:
    ci = f"{r.ci95[0]:.3f}-{r.ci95[1]:.3f}" if r.ci95 else ""
    p = "" if r.p_value is None else f"{r.p_value:.3g}"
    verdict = f"{r.verdict} ({r.why})" if r.why else r.verdict
    return [r.engine, r.precision, r.device, r.model, r.point, METRICS[r.metric][0],
            number(r.base), number(r.new), _ratio(r.ratio), ci, p, f"{r.n_base}/{r.n_new}",
            verdict]


def _notes(c: Comparison) -> list[str]:
    notes = [f"rule: {c.rule}", f"noise floor: {c.noise_source}"]
    if c.unmatched_base:
        notes.append(f"only in base ({len(c.unmatched_base)}): "
                     + "; ".join(c.unmatched_base))
    if c.unmatched_new:
        notes.append(f"only in new ({len(c.unmatched_new)}): " + "; ".join(c.unmatched_new))
    return notes


def _csv(c: Comparison) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["base_run", "new_run", *FIELDS])
    for r in c.rows:
        lo, hi = r.ci95 or ("", "")
        writer.writerow(safe.csv_row([
            c.base_run, c.new_run, r.engine, r.precision, r.device, r.model, r.point, r.metric,
            r.base, r.new, r.ratio, lo, hi, r.p_value, r.n_base, r.n_new, r.verdict, r.why]))
    return buf.getvalue()


def render_comparison(c: Comparison, fmt: str, console: Console | None = None
                      ) -> str | None:
    """Text of the comparison in `fmt`; for "table", prints it to `console` and returns
    None."""
    if fmt == "json":
        return safe.json_text(json.dumps(c.as_dict(), indent=1)) + "\n"
    if fmt == "csv":
        return _csv(c)
    title = f"{c.new_run} against {c.base_run}, noise floor {c.noise_pct:.1f}%"
    body = [_cells(r) for r in c.rows]
    if fmt == "md":
        return markdown(title, COLUMNS, body, _notes(c))
    print_table(title, COLUMNS, body, _notes(c), console)
    return None
