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

from enginebench.engines.base import Engine, Unsupported
from enginebench.engines.registry import load_class
from enginebench.models.checkpoint import open_checkpoint
from enginebench.results.store import write_atomic


def _prepare(engine: Engine, job: dict) -> dict:
    ckpt = open_checkpoint(Path(job["checkpoint"]), job["model"])
    out_dir = Path(job["artifact"])
    start = time.perf_counter()
    engine.prepare(ckpt, job["precision"], out_dir)
    return {"status": "ok", "convert_s": time.perf_counter() - start}


def _measure(engine: Engine, job: dict) -> dict:
    ckpt = open_checkpoint(Path(job["checkpoint"]), job["model"])
    start = time.perf_counter()
    prompt, n = job["prompt_ids"], job["new_tokens"]
    model = engine.load(ckpt, Path(job["artifact"]), job["precision"], job["device"],
                        job["threads"], context=len(prompt) + n)
    load_s = time.perf_counter() - start
    traces = []
    try:
        for _ in range(job["warmups"]):
            engine.generate(model, prompt, n)
        for _ in range(job["reps"]):
            start = time.perf_counter()
            gen = engine.generate(model, prompt, n)
            traces.append({"start": start, "times": gen.times, "ids": gen.ids})
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
    }


def run_job(job: dict) -> dict:
    """Run one job and describe the outcome; exceptions become statuses, never escape."""
    try:
        engine = load_class(job["adapter"])()
        phase = _prepare if job["phase"] == "prepare" else _measure
        return phase(engine, job)
    except Unsupported as e:
        return {"status": "unsupported", "error": str(e)}
    except Exception as e:
        tb = traceback.format_exc(limit=-3)
        return {"status": "failed", "error": f"{type(e).__name__}: {e}", "traceback": tb}


def main(argv: list[str]) -> int:
    job_file, result_file = Path(argv[0]), Path(argv[1])
    result = run_job(json.loads(job_file.read_text()))
    write_atomic(result_file, json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
