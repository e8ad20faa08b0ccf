"""What the asv suite (benchmarks/) runs, read from the one registry so that a new engine
appears in `asv run` with no new file: the model cells are measured once (asv's
`setup_cache`) by `enginebench run` itself, the same plan, suite and run documents, and
every engine's op face once by the same run as `enginebench ops`. Each `track_` method then
reports one figure of one cell.

What `enginebench run` command that is comes from the environment:
- ENGINEBENCH_ASV_PROFILE=runners/cpu: the profile's grid, then its sweeps (the nightly,
  scripts/asv_run.sh), so one measurement gives both asv's results JSON and the full run
  documents (raw samples, quality, roofline);
- else every installed engine at every precision on each of ENGINEBENCH_ASV_MODELS (`tiny`
  by default) at ENGINEBENCH_ASV_THREADS threads (the physical cores), `run`'s defaults
  otherwise.
The run documents go to ENGINEBENCH_ASV_OUT/<machine>/, or a scratch folder without it.

asv records a NotImplementedError as skipped (NaN: not installed, unsupported, no such
precision) and any other error as failed (null).
"""

import argparse
import os
import shlex
import tempfile
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from enginebench.engines.registry import (
    engine_class,
    model_engines,
    ops_engines,
    parse_ops_engines,
    select_precisions,
    split_list,
)
from enginebench.measure.bandwidth import bandwidth_or_reason
from enginebench.measure.environment import default_machine_label
from enginebench.measure.ops_suite import BANDWIDTH_SIZES_MB, OpsSpec, run_ops
from enginebench.measure.workload import Point, Workload, default_threads
from enginebench.models.presets import PRESETS
from enginebench.results.asv_import import ASV_COMMAND, cell_label
from enginebench.results.schema import PRECISION_CLASSES

PROFILE_ENV, OUT_ENV = "ENGINEBENCH_ASV_PROFILE", "ENGINEBENCH_ASV_OUT"
# model presets to run (comma list); `tiny` unless ENGINEBENCH_ASV_MODELS says otherwise
MODELS = os.environ.get("ENGINEBENCH_ASV_MODELS", "tiny").split(",")
# the preset whose shapes the op cases take; `small` unless ENGINEBENCH_ASV_OPS_MODEL says
OPS_MODEL = os.environ.get("ENGINEBENCH_ASV_OPS_MODEL", "small")
# the same default as `enginebench run --threads`: the physical cores
THREADS = int(os.environ.get("ENGINEBENCH_ASV_THREADS", "0")) or default_threads()


def run_commands() -> list[list[str]]:
    """The `enginebench run` arguments the suite measures (see the module's docstring)."""
    profile = os.environ.get(PROFILE_ENV)
    if profile:
        return [["--profile", profile]]
    return [["--model", m, "--precisions", "all", "--threads", str(THREADS)] for m in MODELS]


def plan() -> list[tuple[argparse.Namespace, list[str], str]]:
    """(options, arguments, model) of each run those commands make, in order."""
    from enginebench.cli import command_plan  # the command line imports this package

    return [(ns, argv, model) for argv in run_commands()
            for ns, model in command_plan(argv)]


def workload_label(w: Workload, point: Point) -> str:
    """One workload point as an asv parameter, so the results file records it: "pp128
    tg128 w1 r5 t2", with " b4" after tg where 4 sequences decode together and " x3" after
    the reps where every cell ran in 3 rounds."""
    batch = f" b{point.batch}" if point.batch > 1 else ""
    rounds = f" x{w.rounds}" if w.rounds > 1 else ""
    return (f"pp{point.prompt_tokens} tg{point.new_tokens}{batch} w{w.warmups} r{w.reps}"
            f"{rounds} t{w.threads}")


def model_params() -> list[list[str]]:
    """asv's grid for the model cells: cell (engine and precision, as `cell_label` writes
    them; one axis keeps the grid to the cells that exist) x model x workload point, over
    every run of the plan; engines that are not installed are in it (asv: skipped)."""
    from enginebench.cli import workload_of

    cells: dict[str, None] = {}
    models: dict[str, None] = {}
    workloads: dict[str, None] = {}
    for ns, _, model in plan():
        names = split_list(ns.engines, "--engines", model_engines()) if ns.engines \
            else model_engines()
        for cls in map(engine_class, names):
            for native in select_precisions(cls, ns.precisions):
                cells[cell_label(cls.name, native, cls.precisions[native])] = None
        models[model] = None
        w = workload_of(ns)
        for point in w.points():
            workloads[workload_label(w, point)] = None
    return [list(cells), list(models), list(workloads)]


def run_model_cells() -> dict:
    """{(cell label, model, workload label): figures} of every cell of every run of the
    plan, measured by `enginebench run`'s own code; a point two runs share (a sweep's
    pp128 tg128 and the grid's) keeps the first run's figures."""
    from enginebench.cli import run_model, workload_of

    out = Path(os.environ.get(OUT_ENV) or tempfile.mkdtemp(prefix="enginebench-asv-"))
    machine = default_machine_label()
    quiet = Console(quiet=True)  # the documents are the output; progress goes to stderr
    cells: dict = {}
    bandwidth = None  # measured once for every run, as `enginebench run` does
    for ns, argv, model in plan():
        ns.machine, ns.out = ns.machine or machine, out
        command = f"{ASV_COMMAND}enginebench run {shlex.join(argv)} (model {model})"
        run, bandwidth = run_model(ns, model, quiet, bandwidth, command)
        for cell in run.cells:
            m, point = cell.metrics, run.point(cell)
            key = (cell_label(cell.engine, cell.precision, cell.precision_class), model,
                   workload_label(workload_of(ns), Point(point.prompt_tokens,
                                                       point.new_tokens, point.batch)))
            cells.setdefault(key, {
                "status": cell.status, "error": cell.error,
                "decode_tps": m.decode_tps.median if m.decode_tps else None,
                "prefill_tps": m.prefill_tps.median if m.prefill_tps else None,
                "ttft_ms": m.ttft_ms.median if m.ttft_ms else None,
                "peak_rss_mb": m.peak_rss_mb})
    return cells


def ops_params() -> list[list[str]]:
    """asv's grid for the operators: engine x case x precision class."""
    spec = OpsSpec([], None, OPS_MODEL, PRESETS[OPS_MODEL].config(), threads=THREADS)
    return [ops_engines(), [c.name for c in spec.cases()], list(PRECISION_CLASSES)]


def run_ops_results() -> dict:
    """{(engine, case, precision): figures} of one `enginebench ops` run of every installed
    op face."""
    spec = OpsSpec(parse_ops_engines(None), None, OPS_MODEL, PRESETS[OPS_MODEL].config(),
                   threads=THREADS)
    out = Path(tempfile.mkdtemp(prefix="enginebench-asv-ops-"))
    bandwidth = bandwidth_or_reason(THREADS, BANDWIDTH_SIZES_MB)
    run, _ = run_ops(spec, default_machine_label(), out, lambda *_: None, bandwidth)
    return {(r.engine, r.case, r.precision): {
        "status": r.status, "error": r.error, "gflops": r.gflops, "gbs": r.gbs,
        "roofline_pct": r.roofline_pct, "time_us": r.time_us.median if r.time_us else None}
        for r in run.results}


def figures(results: dict, key: tuple) -> dict:
    """The figures of one cell or op result; NotImplementedError (asv: skipped) where the
    engine is not installed or has no such cell, RuntimeError (asv: failed) where it
    failed or timed out."""
    r = results.get(key)
    if r is None or r["status"] == "unsupported":
        raise NotImplementedError((r or {}).get("error") or "not run: engine not installed "
                                  "or no such precision")
    if r["status"] != "ok":
        raise RuntimeError(f"{r['status']}: {r['error']}")
    return r


def check(self: object, results: dict, *params: str) -> None:
    """asv's `setup`: skip or fail before any figure is read."""
    figures(results, params)


def track(name: str, metric: str, unit: str) -> Callable[..., float]:
    """A `track_` method named `name` reporting `metric` of the cell its parameters name."""
    def method(self: object, results: dict, *params: str) -> float:
        return figures(results, params)[metric]

    method.__name__ = method.__qualname__ = name
    method.unit = unit  # type: ignore[attr-defined]
    return method
