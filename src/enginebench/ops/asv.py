"""What benchmarks/operators.py runs: the ops suite once (asv's `setup_cache`), through the
same isolated children as `enginebench ops`, and each figure of one (engine, case,
precision) result for asv's `track_` methods."""

import os
import tempfile
from pathlib import Path

from enginebench.measure.bandwidth import bandwidth_or_reason
from enginebench.measure.environment import default_machine_label
from enginebench.measure.workload import default_threads
from enginebench.models.presets import PRESETS
from enginebench.ops.registry import OPS_ENGINES, parse_ops_engines
from enginebench.ops.suite import BANDWIDTH_SIZES_MB, OpsSpec, run_ops

# the preset whose shapes the cases take; `small` unless ENGINEBENCH_ASV_OPS_MODEL says
MODEL = os.environ.get("ENGINEBENCH_ASV_OPS_MODEL", "small")
THREADS = int(os.environ.get("ENGINEBENCH_ASV_THREADS", "0")) or default_threads()
SPEC = OpsSpec([], None, MODEL, PRESETS[MODEL].config(), threads=THREADS)


def params() -> list[list[str]]:
    """asv's parameter grid: engine x case x precision class."""
    return [list(OPS_ENGINES), [c.name for c in SPEC.cases()],
            ["fp32", "fp16", "bf16", "int8", "int4"]]


def run_results() -> dict:
    """{(engine, case, precision): figures} of one `enginebench ops` run of every installed
    engine; the document goes to a scratch folder, not data/."""
    spec = OpsSpec(parse_ops_engines(None), None, MODEL, SPEC.config, threads=THREADS)
    out = Path(tempfile.mkdtemp(prefix="enginebench-asv-ops-"))
    bandwidth = bandwidth_or_reason(THREADS, BANDWIDTH_SIZES_MB)
    run, _ = run_ops(spec, default_machine_label(), out, lambda *_: None, bandwidth)
    return {(r.engine, r.case, r.precision): {
        "status": r.status, "error": r.error, "gflops": r.gflops, "gbs": r.gbs,
        "roofline_pct": r.roofline_pct, "time_us": r.time_us.median if r.time_us else None}
        for r in run.results}


def result(results: dict, engine: str, case: str, precision: str) -> dict:
    """The figures of one result; NotImplementedError (asv: skipped) where the engine has
    no such op or is not installed, RuntimeError (asv: failed) where it failed."""
    r = results.get((engine, case, precision))
    if r is None or r["status"] == "unsupported":
        raise NotImplementedError((r or {}).get("error") or "not run: engine not installed "
                                  "or no op at this precision")
    if r["status"] != "ok":
        raise RuntimeError(f"{r['status']}: {r['error']}")
    return r
