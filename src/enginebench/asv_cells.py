"""What every engine's asv class (benchmarks/) shares: its cells are run once (asv's
`setup_cache`) by the same isolated suite as `enginebench run`, with the same workload
defaults, and each `track_` method reports one figure of one (model, precision) cell."""

import os
import tempfile
from pathlib import Path
from typing import ClassVar

from enginebench.engines.registry import engine_class
from enginebench.measure.environment import default_machine_label
from enginebench.measure.suite import CellSpec, Suite
from enginebench.measure.workload import Workload, default_threads
from enginebench.models.checkpoint import resolve_model

# model presets to run (comma list); `tiny` unless ENGINEBENCH_ASV_MODELS says otherwise
MODELS = os.environ.get("ENGINEBENCH_ASV_MODELS", "tiny").split(",")
# the same default as `enginebench run --threads`: the physical cores
THREADS = int(os.environ.get("ENGINEBENCH_ASV_THREADS", "0")) or default_threads()


WORKLOAD = Workload(threads=THREADS)  # `enginebench run`'s defaults


def workload_label(w: Workload) -> str:
    """The workload as asv's third parameter, so the results file records it."""
    return f"pp{w.prompt_tokens} tg{w.new_tokens} w{w.warmups} r{w.reps} t{w.threads}"


def params_for(engine: str) -> list[list[str]]:
    return [MODELS, list(engine_class(engine).precisions), [workload_label(WORKLOAD)]]


def run_cells(engine: str) -> dict:
    """Every (model, precision) cell of `engine`, run once; `{"missing": install}` when
    the engine is not installed. The run documents go to a scratch folder, not data/."""
    cls = engine_class(engine)
    if not cls.available():
        return {"missing": cls.install}
    cells: dict = {}
    out = Path(tempfile.mkdtemp(prefix=f"enginebench-asv-{engine}-"))
    for model in MODELS:
        specs = [CellSpec(cls, p, "cpu") for p in cls.precisions]
        suite = Suite(resolve_model(model), specs, WORKLOAD, default_machine_label(), out,
                      command=f"asv run ({engine}, {model})")
        for cell in suite.run().cells:
            m = cell.metrics
            cells[(model, cell.precision)] = {
                "status": cell.status, "error": cell.error,
                "decode_tps": m.decode_tps.median if m.decode_tps else None,
                "prefill_tps": m.prefill_tps.median if m.prefill_tps else None,
                "ttft_ms": m.ttft_ms.median if m.ttft_ms else None,
                "peak_rss_mb": m.peak_rss_mb}
    return cells


class EngineCells:
    """Subclasses set `params = params_for(name)` and define their own `setup_cache`
    returning `run_cells(name)` (asv keys the cache by where setup_cache is written).
    Not installed or unsupported: NotImplementedError, which asv records as skipped (NaN);
    failed or timed out: RuntimeError, recorded as failed (null)."""

    param_names: ClassVar[list[str]] = ["model", "precision", "workload"]
    timeout = 3600  # the cells of one engine, run once

    def setup(self, cells: dict, model: str, precision: str, workload: str) -> None:
        if "missing" in cells:
            raise NotImplementedError(f"not installed: {cells['missing']}")
        cell = cells.get((model, precision))
        if cell is None or cell["status"] == "unsupported":
            raise NotImplementedError("unsupported: " + (cell or {}).get("error", "no cell"))
        if cell["status"] != "ok":
            raise RuntimeError(f"{cell['status']}: {cell['error']}")

    def track_decode_tps(self, cells: dict, model: str, precision: str, _: str) -> float:
        return cells[(model, precision)]["decode_tps"]

    def track_prefill_tps(self, cells: dict, model: str, precision: str, _: str) -> float:
        return cells[(model, precision)]["prefill_tps"]

    def track_ttft_ms(self, cells: dict, model: str, precision: str, _: str) -> float:
        return cells[(model, precision)]["ttft_ms"]

    def track_peak_rss_mb(self, cells: dict, model: str, precision: str, _: str) -> float:
        return cells[(model, precision)]["peak_rss_mb"]

    track_decode_tps.unit = track_prefill_tps.unit = "tokens/s"  # type: ignore[attr-defined]
    track_ttft_ms.unit = "ms"  # type: ignore[attr-defined]
    track_peak_rss_mb.unit = "MB"  # type: ignore[attr-defined]
