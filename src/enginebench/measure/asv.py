"""What the asv suite (benchmarks/) runs, read from the one registry so that a new engine
appears in `asv run` with no new file: every engine's model cells are run once (asv's
`setup_cache`) by the same isolated, interleaved suite as `enginebench run`, with the same
workload defaults, and every engine's op face once by the same run as `enginebench ops`.
Each `track_` method then reports one figure of one cell.

asv records a NotImplementedError as skipped (NaN: not installed, unsupported, no such
precision) and any other error as failed (null). The run documents go to a scratch folder,
not data/.
"""

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from enginebench.engines.registry import (
    engine_class,
    model_engines,
    ops_engines,
    parse_ops_engines,
)
from enginebench.measure.bandwidth import bandwidth_or_reason
from enginebench.measure.environment import default_machine_label
from enginebench.measure.ops_suite import BANDWIDTH_SIZES_MB, OpsSpec, run_ops
from enginebench.measure.suite import CellSpec, Suite
from enginebench.measure.workload import Workload, default_threads
from enginebench.models.checkpoint import resolve_model
from enginebench.models.presets import PRESETS
from enginebench.results.asv_import import cell_label
from enginebench.results.schema import PRECISION_CLASSES

# model presets to run (comma list); `tiny` unless ENGINEBENCH_ASV_MODELS says otherwise
MODELS = os.environ.get("ENGINEBENCH_ASV_MODELS", "tiny").split(",")
# the preset whose shapes the op cases take; `small` unless ENGINEBENCH_ASV_OPS_MODEL says
OPS_MODEL = os.environ.get("ENGINEBENCH_ASV_OPS_MODEL", "small")
# the same default as `enginebench run --threads`: the physical cores
THREADS = int(os.environ.get("ENGINEBENCH_ASV_THREADS", "0")) or default_threads()
WORKLOAD = Workload(threads=THREADS)  # `enginebench run`'s defaults


def workload_label(w: Workload) -> str:
    """The workload as an asv parameter, so the results file records it."""
    (point,) = w.points()  # asv's cells are one point each
    return (f"pp{point.prompt_tokens} tg{point.new_tokens} w{w.warmups} r{w.reps} "
            f"t{w.threads}")


def model_params() -> list[list[str]]:
    """asv's grid for the model cells: cell (engine and precision, as `cell_label` writes
    them; one axis keeps the grid to the cells that exist) x model x workload."""
    cells = [cell_label(name, p, c) for name in model_engines()
             for p, c in engine_class(name).precisions.items()]
    return [cells, MODELS, [workload_label(WORKLOAD)]]


def run_model_cells() -> dict:
    """{(cell label, model, workload label): figures} of every installed engine's cells,
    one interleaved suite per model."""
    classes = [c for c in map(engine_class, model_engines()) if c.available()]
    cells: dict = {}
    out = Path(tempfile.mkdtemp(prefix="enginebench-asv-"))
    for model in MODELS:
        specs = [CellSpec(cls, p, "cpu") for cls in classes for p in cls.precisions]
        suite = Suite(resolve_model(model), specs, WORKLOAD, default_machine_label(), out,
                      command=f"asv run ({model})")
        for cell in suite.run().cells:
            m = cell.metrics
            label = cell_label(cell.engine, cell.precision, cell.precision_class)
            cells[(label, model, workload_label(WORKLOAD))] = {
                "status": cell.status, "error": cell.error,
                "decode_tps": m.decode_tps.median if m.decode_tps else None,
                "prefill_tps": m.prefill_tps.median if m.prefill_tps else None,
                "ttft_ms": m.ttft_ms.median if m.ttft_ms else None,
                "peak_rss_mb": m.peak_rss_mb}
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
