"""Synthetic run documents, for the site's tests and its build benchmark
(scripts/bench_site.py): every one says it is synthetic in its machine label and command,
and none is ever written under data/. The engines and their precisions are the registry's,
read when a run is made, so a new engine appears in them with no edit here."""

import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from enginebench.engines.registry import engine_class, model_engines, no_op_api
from enginebench.measure.ops_suite import ceilings, place_under_roof
from enginebench.models.presets import PRESETS
from enginebench.ops.cases import model_cases, peak_case
from enginebench.results.schema import (
    SCHEMA_VERSION,
    Cell,
    Machine,
    OpResult,
    OpsRun,
    OpsWorkload,
    Point,
    Quality,
    Run,
    Workload,
)
from enginebench.results.stats import summarize
from enginebench.results.store import run_path, save_run

# (engine, precision class) -> how its cells end where not ok: 0 unsupported, -1 failed
# (the site's feature "fp16" is shown by fp16 and bf16 cells alike)
OUTCOMES = {("ctranslate2", "fp16"): 0.0, ("ctranslate2", "bf16"): 0.0,
            ("burn", "fp16"): -1.0, ("burn", "bf16"): -1.0}


def grid() -> dict[str, dict[str, tuple[str, float]]]:
    """engine -> native precision -> (its class, the decode tok/s samples are drawn around):
    every registered engine's precisions, each with a rate fixed by its name."""
    out: dict[str, dict[str, tuple[str, float]]] = {}
    for name in model_engines():
        precisions = engine_class(name).precisions
        out[name] = {p: (c, OUTCOMES.get((name, c), random.Random(f"{name}/{p}").uniform(10, 400)))
                     for p, c in precisions.items()}
    return out


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
    """One nightly run of every engine and precision of `grid()` on `machine`, at `when`."""
    rng = random.Random(seed)
    versions = versions or {}
    engines = grid()
    cells = [_cell(rng, engine, precision, pclass, decode, versions.get(engine, "1.0.0"), reps)
             for engine, precisions in engines.items()
             for precision, (pclass, decode) in precisions.items()]
    return Run(
        schema_version=SCHEMA_VERSION, run_id=f"{when:%Y%m%dT%H%M%SZ}-{seed % 16**6:06x}",
        created_at=when, command=f"synthetic: enginebench run --model {model}",
        machine=Machine(label=machine, cpu="Synthetic CPU", arch="x86_64", physical_cores=8,
                        logical_cores=16, ram_gb=64.0),
        environment={"python": "3.11", "enginebench": "synthetic",
                     "engines": {e: {"version": versions.get(e, "1.0.0"), "build": {}}
                                 for e in engines}},
        model={"name": model, "params": 58_466_816},
        workload=Workload(prompt_tokens=128, new_tokens=128, warmups=1, reps=reps, threads=8),
        cells=cells)


# the sweep's engines and precisions; candle decodes one sequence at a time here, and
# onnxruntime runs out of memory at the deepest batch
SWEEP_CELLS = (("torch", "fp32", "fp32"), ("llamacpp", "f32", "fp32"),
               ("llamacpp", "q8_0", "int8"), ("ctranslate2", "int8_float32", "int8"),
               ("onnxruntime", "fp32", "fp32"), ("candle", "f32", "fp32"))
SWEEP_UNSUPPORTED = ("candle", 4, "candle's runner decodes one sequence at a time; batch "
                     "{batch} needs batched generation (synthetic)")
SWEEP_FAILED = ("onnxruntime", Point(prompt_tokens=1920, new_tokens=128, batch=4),
                "out of memory: the engine process was killed (synthetic)")


def _sweep_cell(rng: random.Random, engine: str, precision: str, pclass: str, point: Point,
                version: str, reps: int) -> Cell:
    """A cell at `point` whose rates and memory depend on it the way a real engine's do:
    decode slows with depth, aggregate decode grows with batch, memory grows with both."""
    common = {"engine": engine, "engine_version": version, "precision": precision,
              "precision_class": pclass, "device": "cpu", "point": point}
    if (engine, point.batch) == SWEEP_UNSUPPORTED[:2]:
        return Cell(**common, status="unsupported",
                    error=SWEEP_UNSUPPORTED[2].format(batch=point.batch))
    if (engine, point) == SWEEP_FAILED[:2]:
        return Cell(**common, status="failed", error=SWEEP_FAILED[2])
    p, n, b = point.prompt_tokens, point.new_tokens, point.batch
    base = random.Random(f"{engine}/{precision}").uniform(20, 120)
    seq = base / (1 + p / 1500) * (1 - 0.12 * (b - 1) / 3)
    prefill = base * 12 * (1 + b / 8) / (1 + p / 3000)
    metrics = {"decode_tps": _stat(rng, seq * b, reps), "prefill_tps": _stat(rng, prefill, reps),
               "ttft_ms": _stat(rng, 1e3 * b * p / prefill, reps),
               "e2e_ms": _stat(rng, 1e3 * (b * p / prefill + (n - 1) / seq), reps),
               "itl_ms": {"p50": 1e3 / seq, "p90": 1.1e3 / seq, "p99": 1.3e3 / seq},
               "peak_rss_mb": base * (4 if pclass == "int8" else 9) + 0.2 * b * (p + n),
               "load_s": rng.uniform(0.1, 3)}
    if b > 1:
        metrics["seq_decode_tps"] = _stat(rng, seq, reps)
    return Cell(**common, status="ok", tokens_generated=n * b, outputs_consistent=True,
                rounds=1, metrics=metrics)


def synthetic_sweep_run(machine: str, when: datetime, seed: int, model: str = "small",
                        versions: dict[str, str] | None = None, reps: int = 3,
                        prompt_tokens: tuple[int, ...] = (128, 512, 1920),
                        batch: tuple[int, ...] = (1, 4), new_tokens: int = 128) -> Run:
    """A run that sweeps P x N x B for the engines of SWEEP_CELLS: every cell carries its
    point; candle is unsupported at B = 4 and onnxruntime failed at the deepest batch."""
    rng = random.Random(seed)
    versions = versions or {}
    points = [Point(prompt_tokens=p, new_tokens=new_tokens, batch=b)
              for p in prompt_tokens for b in batch]
    cells = [_sweep_cell(rng, engine, precision, pclass, point,
                         versions.get(engine, "1.0.0"), reps)
             for engine, precision, pclass in SWEEP_CELLS for point in points]
    first = points[0]
    return Run(
        schema_version=SCHEMA_VERSION, run_id=f"{when:%Y%m%dT%H%M%SZ}-{seed % 16**6:06x}",
        created_at=when, command=f"synthetic: enginebench run --model {model} --prompt-tokens "
        f"{','.join(map(str, prompt_tokens))} --batch {','.join(map(str, batch))}",
        machine=Machine(label=machine, cpu="Synthetic CPU", arch="x86_64", physical_cores=8,
                        logical_cores=16, ram_gb=64.0),
        environment={"python": "3.11", "enginebench": "synthetic",
                     "engines": {e: {"version": versions.get(e, "1.0.0"), "build": {}}
                                 for e in dict.fromkeys(e for e, _, _ in SWEEP_CELLS)}},
        model={"name": model, "params": 58_466_816},
        workload=Workload(prompt_tokens=first.prompt_tokens, new_tokens=new_tokens,
                          batch=first.batch, warmups=1, reps=reps, threads=8, points=points),
        cells=cells)


def nightly_year(root: Path, machines: int = 4, days: int = 365,
                 start: datetime = datetime(2025, 11, 27, 3, 0), sweep_every: int = 7) -> int:
    """Write a year of nightly synthetic runs for `machines` machines under `root`
    (root/<machine>/<run>.json), and a sweep run an hour after every `sweep_every`th night
    (0: none); engine versions step up every 60 days. Returns the count."""
    count = 0
    for m in range(machines):
        label = f"synthetic-machine-{m + 1}"
        for day in range(days):
            when = start + timedelta(days=day, minutes=m)
            versions = {e: f"1.{day // 60}.0" for e in model_engines()}
            runs = [synthetic_run(label, when, seed=m * 10_000 + day, versions=versions)]
            if sweep_every and day % sweep_every == sweep_every - 1:
                runs.append(synthetic_sweep_run(label, when + timedelta(hours=1),
                                                seed=m * 10_000 + 5_000 + day,
                                                versions=versions))
            for run in runs:
                save_run(run, run_path(root, run))
            count += len(runs)
    return count


def synthetic_ops_run(machine: str, created: datetime, seed: int,
                      versions: dict[str, str] | None = None) -> OpsRun:
    """An ops run at `tiny`'s shapes with made-up times for numpy and torch at fp32, one
    failed case, and made-up ceilings, placed under the roofline as a real run is."""
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
                  ceilings=ceil, no_op_api=no_op_api(), results=results)


# --- small hand-made runs for the comparison and noise tests ---


def sample_cell(engine: str, decode: list[float], status: str = "ok", rss: float = 500.0,
                point: Point | None = None, ttft: list[float] | None = None,
                rounds: list[int] | None = None, version: str = "1") -> Cell:
    """An fp32 cell with these decode tok/s samples (`rounds[i]` the round of sample i),
    peak RSS and, where given, TTFT samples."""
    common = {"engine": engine, "engine_version": version, "precision": "fp32",
              "precision_class": "fp32", "device": "cpu", "point": point}
    if status != "ok":
        return Cell(**common, status=status, error="synthetic")
    metrics = {"decode_tps": summarize(decode, rounds), "peak_rss_mb": rss}
    if ttft:
        metrics["ttft_ms"] = summarize(ttft)
    return Cell(**common, status="ok", tokens_generated=128, metrics=metrics)


def sample_run(run_id: str, cells: list[Cell], minutes: int = 0, model: str = "small",
               fingerprint: str = "f00d", machine: str = "m", commit: str = "c0ffee",
               dirty: bool = False) -> Run:
    """A run on `machine` holding `cells`, `minutes` after 2026-12-05 00:00 UTC, measured
    with the suite at `commit`."""
    return Run(schema_version=SCHEMA_VERSION, run_id=run_id,
               created_at=datetime(2026, 12, 5, tzinfo=UTC) + timedelta(minutes=minutes),
               command="synthetic: enginebench run",
               environment={"suite": {"commit": commit, "dirty": dirty}},
               machine=Machine(label=machine, cpu="Synthetic CPU", arch="x86_64",
                               physical_cores=2, logical_cores=2, ram_gb=8.0),
               model={"name": model, "params": 1, "fingerprint": fingerprint},
               workload=Workload(prompt_tokens=128, new_tokens=128, warmups=1, reps=5,
                                 threads=2),
               cells=cells)


def asv_results_file(figures: dict, params: list[list[str]], folder: Path, commit: str) -> Path:
    """asv's results file (format 2) as `asv run` writes it for these figures."""
    cells, models, workloads = params
    results = {}
    for track, metric in (("track_decode_tps", "decode_tps"),
                          ("track_prefill_tps", "prefill_tps"),
                          ("track_ttft_ms", "ttft_ms"), ("track_peak_rss_mb", "peak_rss_mb")):
        values = [figures[(c, m, w)][metric] if (c, m, w) in figures else math.nan
                  for c in cells for m in models for w in workloads]
        results[f"engines.Engines.{track}"] = [
            values, [[repr(v) for v in axis] for axis in params], "h", 1_795_000_000_000, 1.0]
    doc = {"version": 2, "commit_hash": commit, "date": 1_795_000_000_000,
           "params": {"cpu": "x", "num_cpu": "2", "ram": str(2**34), "arch": "x86_64"},
           "env_name": "existing", "python": "3.11",
           "result_columns": ["result", "params", "version", "started_at", "duration"],
           "results": results}
    path = folder / f"{commit[:8]}-existing.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path
