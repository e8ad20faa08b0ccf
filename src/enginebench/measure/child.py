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
    MIN_REPS,
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
    """The cell's teacher-forced logits against the reference's, and its greedy output for
    each divergence prompt; the cost of both is timed apart."""
    start = time.perf_counter()
    logits = engine.logits(model, spec.ids)
    with np.load(spec.reference) as ref:
        out = compare_logits(ref["logits"], logits)
    ppl = perplexity(logits, spec.ids) if spec.perplexity else None
    diverge = [engine.generate(model, p, spec.diverge_tokens).ids
               for p in spec.diverge_prompts]
    return QualityResult(**out, perplexity=ppl, seconds=time.perf_counter() - start,
                         diverge_ids=diverge)


def _repetition(engine: Engine, model: LoadedModel, job: MeasureJob) -> TraceResult:
    """One timed generation: one sequence, or the job's batch together."""
    n = job.new_tokens
    start = time.perf_counter()
    if job.batch_prompts:
        batch = engine.generate_batch(model, job.batch_prompts, n)
        return TraceResult(start=start, times=batch.times,
                           ids=batch.ids[0] if batch.ids else [], batch_ids=batch.ids)
    gen = engine.generate(model, job.prompt_ids, n)
    return TraceResult(start=start, times=gen.times, ids=gen.ids)


def _measure(engine: Engine, job: MeasureJob) -> MeasureResult:
    if job.batch_prompts and engine.no_batch:
        raise Unsupported(f"batch {job.batch}: {engine.name} {engine.no_batch}")
    model, load_s = _load(engine, job)
    result = MeasureResult(load_s=load_s)
    budget_notes: list[str] = []
    try:
        for _ in range(job.warmups):
            _repetition(engine, model, job)
        t0 = time.perf_counter()
        for _ in range(job.reps):
            result.traces.append(_repetition(engine, model, job))
            spent = time.perf_counter() - t0
            done = len(result.traces)
            if job.budget_s is not None and done < job.reps and \
                    done >= min(MIN_REPS, job.reps) and spent >= job.budget_s:
                budget_notes.append(f"measured {done} of {job.reps} reps: they took "
                                    f"{spent:.0f} s, past the cell budget of "
                                    f"{job.budget_s:g} s (--cell-budget)")
                break
        # the cell's memory is that of loading and generating; the quality pass after it
        # (1,024 positions of logits, the comparison) is not part of the workload
        result.peak_rss_mb = max((m for m in (own_peak_rss_mb(),
                                              engine.process_peak_rss_mb(model))
                                  if m is not None), default=None)
        if job.quality:
            try:
                result.quality = _quality(engine, model, job.quality)
            except Exception as e:  # the speed result stands without its quality
                result.quality_error = f"{type(e).__name__}: {e}"
    finally:
        engine.close(model)
    result.notes, result.build = [*model.notes, *budget_notes], engine.build_info()
    result.peak_device_mb, result.compile_s = engine.peak_device_mb(model), \
        engine.compile_s(model)
    return result


def _reference(engine: Engine, job: ReferenceJob) -> ChildResult:
    """The fp32 reference: logits over the quality ids, greedy ids for the prompt, and how
    far each greedy choice led the runner-up (teacher-forced over prompt + greedy ids), so
    that a cell that departs from them can be told from one that flipped a near-tie."""
    model, _ = _load(engine, job)

    def greedy(prompt: list[int], n: int) -> tuple[list[int], np.ndarray]:
        ids = engine.generate(model, prompt, n).ids
        steps = engine.logits(model, prompt + ids[:-1])[len(prompt) - 1:]
        return ids, top1_margins(steps)

    try:
        logits = engine.logits(model, job.quality_ids)
        ids, margins = greedy(job.prompt_ids, job.new_tokens)
        diverge = [greedy(p, job.diverge_tokens) for p in job.diverge_prompts]
        others = [greedy(p, job.new_tokens) for p in job.prompts]
    finally:
        engine.close(model)
    out = Path(job.out)
    tmp = out.with_name(f"{out.name}.tmp")

    def stack(pairs: list[tuple[list[int], np.ndarray]], width: int) -> dict:
        shape = (len(pairs), width)
        return {"greedy": np.asarray([d[0] for d in pairs], dtype=np.int64).reshape(shape),
                "margins": np.asarray([d[1] for d in pairs]).reshape(shape)}

    div, other = stack(diverge, job.diverge_tokens), stack(others, job.new_tokens)
    with tmp.open("wb") as f:
        np.savez(f, logits=logits.astype(np.float32), greedy=np.asarray(ids),
                 margins=margins, diverge_greedy=div["greedy"],
                 diverge_margins=div["margins"], prompts_greedy=other["greedy"],
                 prompts_margins=other["margins"])
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
    if result.peak_rss_mb is None:  # a job that did not get as far as measuring
        result.peak_rss_mb = own_peak_rss_mb()
    write(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
