"""An ops run as a table: rich for the terminal, or markdown, CSV or JSON text."""

import csv
import io

from rich.console import Console

from enginebench.report import safe
from enginebench.report.numbers import number
from enginebench.report.table import footnote, render_as
from enginebench.results.schema import OpResult, OpsRun

COLUMNS = ("case", "shape", "engine", "precision", "median us ± sd", "GFLOP/s", "GB/s",
           "bound", "roof %", "rel err", "status")
CSV_FIELDS = ("case", "op", "shape", "engine", "engine_version", "precision", "device",
              "status", "error", "calls", "flops", "bytes", "intensity", "gflops", "gbs",
              "roof_gflops", "bound", "roofline_pct", "implausible", "max_rel_err",
              "tolerance")


def _status(r: OpResult, notes: list[str]) -> str:
    label = f"{r.engine} {r.precision} {r.case}"
    if r.status == "ok":
        return f"ok, IMPLAUSIBLE {footnote(label, r.implausible, notes)}" \
            if r.implausible else "ok"
    return f"{r.status} {footnote(label, r.error, notes)}" if r.error else r.status


def rows(run: OpsRun, notes: list[str]) -> list[list[str]]:
    """One row per case x engine x precision, grouped by case."""
    order = {c: i for i, c in enumerate(dict.fromkeys(r.case for r in run.results))}
    out = []
    for r in sorted(run.results, key=lambda r: order[r.case]):
        t = r.time_us
        out.append([r.case, r.shape, r.engine, r.precision,
                    f"{t.median:,.1f} ± {t.sd:,.1f}" if t else "", number(r.gflops), number(r.gbs),
                    r.bound or "", number(r.roofline_pct, 0),
                    "" if r.max_rel_err is None else f"{r.max_rel_err:.1e}",
                    _status(r, notes)])
    return out


def title(run: OpsRun) -> str:
    w, c = run.workload, run.ceilings
    peaks = ", ".join(f"{p} {g:,.1f} ({c.peak_engine[p]})" for p, g in c.peak_gflops.items()) \
        if c else ""
    bw = f"{c.dram_gbs:.1f} GB/s" if c and c.dram_gbs else "not measured"
    return (f"ops at {run.model.get('name')} shapes on {run.machine.label}: "
            f"P={w.prompt_tokens}, KV {w.context}, {w.threads} threads, {w.reps} samples, "
            f"{run.created_at:%Y-%m-%d %H:%M} UTC. Peak GFLOP/s ({c.peak_case if c else ''}): "
            f"{peaks or 'none'}; DRAM bandwidth {bw}")


def _csv(run: OpsRun) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["run_id", "machine", "model", "threads", *CSV_FIELDS,
                     "time_us_median", "time_us_mean", "time_us_sd", "time_us_cv"])
    for r in run.results:
        t = r.time_us
        writer.writerow(safe.csv_row([
            run.run_id, run.machine.label, run.model.get("name"), run.workload.threads,
            *[getattr(r, f) for f in CSV_FIELDS],
            *([t.median, t.mean, t.sd, t.cv] if t else ["", "", "", ""])]))
    return buf.getvalue()


def render_ops(run: OpsRun, fmt: str, console: Console | None = None) -> str | None:
    """Text of the ops run in `fmt`; for "table", prints it to `console` and returns None."""
    def body(notes: list[str]) -> list[list[str]]:
        out = rows(run, notes)
        notes += [f"no op-level API: {e}: {why}" for e, why in run.no_op_api.items()]
        return out

    return render_as(run, fmt, console, title(run), COLUMNS, body, lambda: _csv(run))
