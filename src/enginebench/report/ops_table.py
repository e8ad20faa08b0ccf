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


def above_roof(r: OpResult) -> str | None:
    """Why an ok result's roof % is above 100, or None: IMPLAUSIBLE past the margin;
    below it the figure stands, since each ceiling is itself a measured sample."""
    pct = r.roofline_pct
    if r.status != "ok":
        return None
    if r.implausible:
        return r.implausible
    if pct is None or pct <= 100:
        return None
    if r.bound == "compute":
        return (f"{pct:.0f}% of its roof, kept as measured: the {r.precision} compute "
                "ceiling is the fastest sample of the peak (square) matmul, itself a "
                "measurement; this shape suits the engine's kernels better than that "
                "one, so it ran faster than the ceiling sample")
    return (f"{pct:.0f}% of its roof, kept as measured: the memory ceiling is STREAM's "
            "bandwidth at the nearest measured working set, itself a measurement; the op "
            "ran from a faster cache level or moved fewer bytes than counted")


def ordered(run: OpsRun) -> list[OpResult]:
    """The run's results grouped by case, cases in the order the run first has them."""
    order = {c: i for i, c in enumerate(dict.fromkeys(r.case for r in run.results))}
    return sorted(run.results, key=lambda r: order[r.case])


def rows(run: OpsRun, notes: list[str]) -> list[list[str]]:
    """One row per case x engine x precision, grouped by case (`ordered`). A roof % above
    100 carries the footnote that says why (`above_roof`)."""
    out = []
    for r in ordered(run):
        label = f"{r.engine} {r.precision} {r.case}"
        why = above_roof(r)
        mark = footnote(label, why, notes) if why else ""
        if r.status == "ok":
            status = f"ok, IMPLAUSIBLE {mark}" if r.implausible else "ok"
        else:
            status = f"{r.status} {footnote(label, r.error, notes)}" if r.error else r.status
        t = r.time_us
        out.append([r.case, r.shape, r.engine, r.precision,
                    f"{t.median:,.1f} ± {t.sd:,.1f}" if t else "", number(r.gflops), number(r.gbs),
                    r.bound or "", f"{number(r.roofline_pct, 0)} {mark}".strip(),
                    "" if r.max_rel_err is None else f"{r.max_rel_err:.1e}", status])
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
