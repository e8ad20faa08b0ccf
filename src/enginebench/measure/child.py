"""The child process of every run: one job (measure/job.py) in, its result out.

Run as `python -m enginebench.measure.child JOB RESULT` (through measure/isolate.py): a
model cell's phase (prepare an artifact; load it and run the workload; the fp32
reference), or one engine's op face at one precision (measure/ops_child.py). Anything that
goes wrong inside is written as a status with its message; a crash that kills the process
is reported by the parent from the exit status.
"""

import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import TypeAdapter

from enginebench.engines.base import Engine, LoadedModel, Unsupported
from enginebench.engines.registry import load_class
from enginebench.measure import ops_child
from enginebench.measure.isolate import own_peak_rss_mb, watch_parent
from enginebench.measure.job import (
    ChildResult,
    Job,
    MeasureJob,
    MeasureResult,
    OpsJob,
    PrepareJob,
    PrepareResult,
    QualityJob,
    QualityResult,
    ReferenceJob,
    TraceResult,
)
from enginebench.measure.quality import compare_logits, perplexity, top1_margins
from enginebench.models.checkpoint import open_checkpoint
from enginebench.results.store import write_atomic

Write = Callable[[ChildResult], None]


def _prepare(engine: Engine, job: PrepareJob) -> PrepareResult:
    ckpt = open_checkpoint(Path(job.checkpoint), job.model)
    start = time.perf_counter()
    engine.prepare(ckpt, job.precision, Path(job.artifact))
    return PrepareResult(convert_s=time.perf_counter() - start)


def _load(engine: Engine, job: MeasureJob | ReferenceJob) -> tuple[LoadedModel, float]:
    ckpt = open_checkpoint(Path(job.checkpoint), job.model)
    start = time.perf_counter()
    model = engine.load(ckpt, Path(job.artifact), job.precision, job.device, job.threads,
                        context=job.context())
    return model, time.perf_counter() - start


def _quality(engine: Engine, model: LoadedModel, spec: QualityJob) -> QualityResult:
    """The cell's teacher-forced logits against the reference's; its cost is timed apart."""
    start = time.perf_counter()
    logits = engine.logits(model, spec.ids)
    seconds = time.perf_counter() - start
    with np.load(spec.reference) as ref:
        out = compare_logits(ref["logits"], logits)
    ppl = perplexity(logits, spec.ids) if spec.perplexity else None
    return QualityResult(**out, perplexity=ppl, seconds=seconds)


def _measure(engine: Engine, job: MeasureJob) -> MeasureResult:
    prompt, n = job.prompt_ids, job.new_tokens
    model, load_s = _load(engine, job)
    result = MeasureResult(load_s=load_s)
    try:
        for _ in range(job.warmups):
            engine.generate(model, prompt, n)
        for _ in range(job.reps):
            start = time.perf_counter()
            gen = engine.generate(model, prompt, n)
            result.traces.append(TraceResult(start=start, times=gen.times, ids=gen.ids))
        if job.quality:
            try:
                result.quality = _quality(engine, model, job.quality)
            except Exception as e:  # the speed result stands without its quality
                result.quality_error = f"{type(e).__name__}: {e}"
    finally:
        engine.close(model)
    result.notes, result.build = model.notes, engine.build_info()
    result.peak_device_mb, result.compile_s = engine.peak_device_mb(model), \
        engine.compile_s(model)
    return result


def _reference(engine: Engine, job: ReferenceJob) -> ChildResult:
    """The fp32 reference: logits over the quality ids, greedy ids for the prompt, and how
    far each greedy choice led the runner-up (teacher-forced over prompt + greedy ids), so
    that a cell that departs from them can be told from one that flipped a near-tie."""
    model, _ = _load(engine, job)
    prompt = job.prompt_ids
    try:
        logits = engine.logits(model, job.quality_ids)
        greedy = engine.generate(model, prompt, job.new_tokens).ids
        steps = engine.logits(model, prompt + greedy[:-1])[len(prompt) - 1:]
    finally:
        engine.close(model)
    out = Path(job.out)
    tmp = out.with_name(f"{out.name}.tmp")
    with tmp.open("wb") as f:
        np.savez(f, logits=logits.astype(np.float32), greedy=np.asarray(greedy),
                 margins=top1_margins(steps))
    tmp.replace(out)
    return ChildResult()


def run_job(job: PrepareJob | MeasureJob | ReferenceJob | OpsJob, write: Write
            ) -> ChildResult:
    """Run one job and describe the outcome; exceptions become statuses, never escape."""
    try:
        if isinstance(job, OpsJob):
            return ops_child.run(job, write)
        engine = load_class(job.adapter)()
        if isinstance(job, PrepareJob):
            return _prepare(engine, job)
        if isinstance(job, MeasureJob):
            return _measure(engine, job)
        return _reference(engine, job)
    except Unsupported as e:
        return job.result_type(status="unsupported", error=str(e))
    except Exception as e:
        tb = traceback.format_exc(limit=-3)
        return job.result_type(status="failed", error=f"{type(e).__name__}: {e}",
                               traceback=tb)


def main(argv: list[str]) -> int:
    watch_parent()
    job_file, result_file = Path(argv[0]), Path(argv[1])

    def write(result: ChildResult) -> None:
        write_atomic(result_file, result.model_dump_json())

    result = run_job(TypeAdapter(Job).validate_json(job_file.read_text()), write)
    result.peak_rss_mb = own_peak_rss_mb()
    write(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
