"""Synthetic run documents, for the site's tests and its build benchmark: every one says
it is synthetic in its machine label and command, and none is ever written under data/."""

import random
from datetime import datetime, timedelta
from pathlib import Path

from enginebench.measure.metrics import summarize
from enginebench.results.schema import (
    SCHEMA_VERSION,
    Cell,
    Machine,
    OpsRun,
    Quality,
    Run,
    Workload,
)
from enginebench.results.store import run_path, save_run

# engine -> precision -> (precision class, decode tok/s around which samples are drawn)
GRID: dict[str, dict[str, tuple[str, float]]] = {
    "torch": {"fp32": ("fp32", 60), "fp16": ("fp16", 60), "bf16": ("bf16", 85),
              "int8": ("int8", 20), "int8_dynamic": ("int8", 35), "int4": ("int4", 8)},
    "llamacpp": {"f32": ("fp32", 140), "f16": ("fp16", 240), "bf16": ("bf16", 300),
                 "q8_0": ("int8", 340), "q4_0": ("int4", 430), "q4_k_m": ("int4", 375)},
    "ctranslate2": {"float32": ("fp32", 110), "float16": ("fp16", 0), "int8": ("int8", 255),
                    "int8_float32": ("int8", 257)},
    "onnxruntime": {"fp32": ("fp32", 105), "fp16": ("fp16", 113), "int8": ("int8", 205),
                    "int4": ("int4", 318)},
    "onnxruntime-genai": {"fp32": ("fp32", 129), "int8": ("int8", 419), "int4": ("int4", 480)},
    "tinygrad": {"float32": ("fp32", 20), "float16": ("fp16", 15)},
    "candle": {"f32": ("fp32", 47), "f16": ("fp16", 60), "bf16": ("bf16", 14),
               "q8_0": ("int8", 290), "q4_0": ("int4", 260), "q4_k_m": ("int4", 280)},
    "burn": {"f32": ("fp32", 13), "f16": ("fp16", -1), "q8": ("int8", 0.4)},
}
KL = {"fp32": 1e-11, "fp16": 2e-5, "bf16": 1.5e-3, "int8": 6e-3, "int4": 0.4}


def _stat(rng: random.Random, center: float, reps: int) -> dict:
    return summarize([center * rng.uniform(0.9, 1.1) for _ in range(reps)])


def _cell(rng: random.Random, engine: str, precision: str, pclass: str, decode: float,
          version: str, reps: int) -> Cell:
    common = {"engine": engine, "engine_version": version, "precision": precision,
              "precision_class": pclass, "device": "cpu"}
    if decode == 0:
        return Cell(**common, status="unsupported",
                    error=f"{engine} has no {precision} kernels on this CPU (synthetic)")
    if decode < 0:
        return Cell(**common, status="failed",
                    error="engine process exited with code 1: <no output> (synthetic)")
    prefill = decode * rng.uniform(8, 20)
    metrics = {"decode_tps": _stat(rng, decode, reps), "prefill_tps": _stat(rng, prefill, reps),
               "ttft_ms": _stat(rng, 128_000 / prefill, reps),
               "e2e_ms": _stat(rng, 128_000 / decode, reps),
               "itl_ms": {"p50": 1e3 / decode, "p90": 1.1e3 / decode, "p99": 1.3e3 / decode},
               "peak_rss_mb": rng.uniform(300, 1500), "load_s": rng.uniform(0.1, 3),
               "roofline_tps": decode * 2.5, "roofline_pct": 40.0}
    quality = Quality(reference="torch fp32 (synthetic)", tokens=256, kl_mean=KL[pclass],
                      kl_p99=KL[pclass] * 10, top1_agree_pct=100 - 100 * min(KL[pclass], 0.5),
                      max_abs_logit_err=KL[pclass] * 100, first_diff_token=None, seconds=0.5)
    return Cell(**common, status="ok", tokens_generated=128, outputs_consistent=True, rounds=1,
                metrics=metrics, quality=quality)


def synthetic_run(machine: str, when: datetime, seed: int, model: str = "small",
                  versions: dict[str, str] | None = None, reps: int = 5) -> Run:
    """One nightly run of every engine and precision in GRID on `machine`, at `when`."""
    rng = random.Random(seed)
    versions = versions or {}
    cells = [_cell(rng, engine, precision, pclass, decode, versions.get(engine, "1.0.0"), reps)
             for engine, precisions in GRID.items()
             for precision, (pclass, decode) in precisions.items()]
    return Run(
        schema_version=SCHEMA_VERSION, run_id=f"{when:%Y%m%dT%H%M%SZ}-{seed % 16**6:06x}",
        created_at=when, command=f"synthetic: enginebench run --model {model}",
        machine=Machine(label=machine, cpu="Synthetic CPU", arch="x86_64", physical_cores=8,
                        logical_cores=16, ram_gb=64.0),
        environment={"python": "3.11", "enginebench": "synthetic",
                     "engines": {e: {"version": versions.get(e, "1.0.0"), "build": {}}
                                 for e in GRID}},
        model={"name": model, "params": 58_466_816},
        workload=Workload(prompt_tokens=128, new_tokens=128, warmups=1, reps=reps, threads=8),
        cells=cells)


def nightly_year(root: Path, machines: int = 4, days: int = 365,
                 start: datetime = datetime(2025, 11, 27, 3, 0)) -> int:
    """Write a year of nightly synthetic runs for `machines` machines under `root`
    (root/<machine>/<run>.json); engine versions step up every 60 days. Returns the count."""
    count = 0
    for m in range(machines):
        label = f"synthetic-machine-{m + 1}"
        for day in range(days):
            when = start + timedelta(days=day, minutes=m)
            versions = {e: f"1.{day // 60}.0" for e in GRID}
            run = synthetic_run(label, when, seed=m * 10_000 + day, versions=versions)
            save_run(run, run_path(root, run))
            count += 1
    return count


def synthetic_ops_run(machine: str, created: datetime, seed: int,
                      versions: dict[str, str] | None = None) -> OpsRun:
    """An ops run at `tiny`'s shapes with made-up times for numpy and torch at fp32, one
    failed case, and made-up ceilings, placed under the roofline as a real run is."""
    from enginebench.models.presets import PRESETS
    from enginebench.ops.cases import model_cases, peak_case
    from enginebench.ops.registry import NO_OP_API
    from enginebench.ops.suite import ceilings, place_under_roof
    from enginebench.results.schema import OpResult, OpsWorkload

    rng = random.Random(seed)
    cases = [peak_case(64), *model_cases(PRESETS["tiny"].config(), 16, 40)]
    results = []
    for engine in ("numpy", "torch"):
        for case in cases:
            nbytes = case.bytes("fp32")
            common = {"case": case.name, "op": case.op, "shape": case.shape_text(),
                      "engine": engine, "engine_version": (versions or {}).get(engine, "1.0"),
                      "precision": "fp32", "device": "cpu", "flops": case.flops,
                      "bytes": nbytes, "intensity": case.flops / nbytes, "tolerance": 1e-4}
            if engine == "torch" and case.op == "rope":
                results.append(OpResult(**common, status="failed", error="synthetic crash"))
                continue
            us = [rng.uniform(5, 50) for _ in range(5)]
            med = sorted(us)[2]
            results.append(OpResult(**common, status="ok", calls=100, time_us=summarize(us),
                                    gflops=case.flops / med / 1e3, gbs=nbytes / med / 1e3,
                                    max_rel_err=1e-7, correct=True))
    bandwidth = {"method": "synthetic", "threads": 2, "seconds": 0.0, "points": [
        {"bytes": 1 << 20, "copy_gbs": 90.0, "triad_gbs": 95.0, "read_gbs": 110.0},
        {"bytes": 512 << 20, "copy_gbs": 12.0, "triad_gbs": 13.0, "read_gbs": 14.0}]}
    ceil = ceilings(results, cases[0], bandwidth)
    place_under_roof(results, ceil)
    return OpsRun(schema_version=SCHEMA_VERSION, kind="ops",
                  run_id=f"ops-{created:%Y%m%dT%H%M%SZ}-synthetic{seed}", created_at=created,
                  command=f"enginebench ops (synthetic, seed {seed})",
                  machine=Machine(label=machine, cpu="synthetic CPU", arch="x86_64",
                                  physical_cores=2, logical_cores=2, ram_gb=16.0),
                  environment={"synthetic": True}, model={"name": "tiny"},
                  workload=OpsWorkload(prompt_tokens=16, context=40, peak_size=64, warmups=2,
                                       reps=5, min_sample_ms=20, threads=2),
                  ceilings=ceil, no_op_api=NO_OP_API, results=results)
