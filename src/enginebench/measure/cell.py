"""The child-process side of a cell: prepare an artifact, or load it and run the workload.

Run as `python -m enginebench.measure.cell JOB RESULT`: reads the job JSON, writes the
result JSON. Anything that goes wrong inside is written as a status with its message;
a crash that kills the process is reported by the parent from the exit status.
"""

import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from enginebench.engines.base import Engine, LoadedModel, Unsupported
from enginebench.engines.registry import load_class
from enginebench.measure.isolate import own_peak_rss_mb
from enginebench.measure.quality import compare_logits, perplexity, top1_margins
from enginebench.models.checkpoint import open_checkpoint
from enginebench.results.store import write_atomic


def _prepare(engine: Engine, job: dict) -> dict:
    ckpt = open_checkpoint(Path(job["checkpoint"]), job["model"])
    out_dir = Path(job["artifact"])
    start = time.perf_counter()
    engine.prepare(ckpt, job["precision"], out_dir)
    return {"status": "ok", "convert_s": time.perf_counter() - start}


def _load(engine: Engine, job: dict) -> tuple[LoadedModel, float]:
    ckpt = open_checkpoint(Path(job["checkpoint"]), job["model"])
    start = time.perf_counter()
    quality = job.get("quality") or {}
    context = max(len(job["prompt_ids"]) + job["new_tokens"], len(quality.get("ids", [])))
    model = engine.load(ckpt, Path(job["artifact"]), job["precision"], job["device"],
                        job["threads"], context=context)
    return model, time.perf_counter() - start


def _quality(engine: Engine, model: LoadedModel, spec: dict) -> dict:
    """The cell's teacher-forced logits against the reference's; its cost is timed apart."""
    start = time.perf_counter()
    logits = engine.logits(model, spec["ids"])
    seconds = time.perf_counter() - start
    with np.load(spec["reference"]) as ref:
        out = compare_logits(ref["logits"], logits)
    ppl = perplexity(logits, spec["ids"]) if spec.get("perplexity") else None
    return {**out, "perplexity": ppl, "seconds": seconds}


def _measure(engine: Engine, job: dict) -> dict:
    prompt, n = job["prompt_ids"], job["new_tokens"]
    model, load_s = _load(engine, job)
    traces = []
    result: dict = {}
    try:
        for _ in range(job["warmups"]):
            engine.generate(model, prompt, n)
        for _ in range(job["reps"]):
            start = time.perf_counter()
            gen = engine.generate(model, prompt, n)
            traces.append({"start": start, "times": gen.times, "ids": gen.ids})
        if job.get("quality"):
            try:
                result["quality"] = _quality(engine, model, job["quality"])
            except Exception as e:  # the speed result stands without its quality
                result["quality_error"] = f"{type(e).__name__}: {e}"
    finally:
        engine.close(model)
    return {
        "status": "ok",
        "load_s": load_s,
        "traces": traces,
        "notes": model.notes,
        "build": engine.build_info(),
        "peak_device_mb": engine.peak_device_mb(model),
        "compile_s": engine.compile_s(model),
        **result,
    }


def _reference(engine: Engine, job: dict) -> dict:
    """The fp32 reference: logits over the quality ids, greedy ids for the prompt, and how
    far each greedy choice led the runner-up (teacher-forced over prompt + greedy ids), so
    that a cell that departs from them can be told from one that flipped a near-tie."""
    model, _ = _load(engine, {**job, "quality": {"ids": job["quality_ids"]}})
    prompt = job["prompt_ids"]
    try:
        logits = engine.logits(model, job["quality_ids"])
        greedy = engine.generate(model, prompt, job["new_tokens"]).ids
        steps = engine.logits(model, prompt + greedy[:-1])[len(prompt) - 1:]
    finally:
        engine.close(model)
    out = Path(job["out"])
    tmp = out.with_name(f"{out.name}.tmp")
    with tmp.open("wb") as f:
        np.savez(f, logits=logits.astype(np.float32), greedy=np.asarray(greedy),
                 margins=top1_margins(steps))
    tmp.replace(out)
    return {"status": "ok"}


PHASES = {"prepare": _prepare, "measure": _measure, "reference": _reference}


def run_job(job: dict) -> dict:
    """Run one job and describe the outcome; exceptions become statuses, never escape."""
    try:
        engine = load_class(job["adapter"])()
        return PHASES[job["phase"]](engine, job)
    except Unsupported as e:
        return {"status": "unsupported", "error": str(e)}
    except Exception as e:
        tb = traceback.format_exc(limit=-3)
        return {"status": "failed", "error": f"{type(e).__name__}: {e}", "traceback": tb}


def main(argv: list[str]) -> int:
    job_file, result_file = Path(argv[0]), Path(argv[1])
    result = run_job(json.loads(job_file.read_text()))
    result["peak_rss_mb"] = own_peak_rss_mb()
    write_atomic(result_file, json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
