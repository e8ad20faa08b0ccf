"""The child-process side of an ops run: one engine's op face at one precision over every
case (an `OpsJob`, run by measure/child.py).

Inputs and the float64 reference of each case are read from the job's folder; each case's
outcome, with its error against the reference, is written after the case, so a crash keeps
the cases before it.
"""

import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

from enginebench.engines.base import OpsEngine, Unsupported
from enginebench.engines.registry import load_class
from enginebench.measure.job import CaseResult, ChildResult, OpsJob, OpsResult
from enginebench.ops.cases import TOLERANCE, OpCase, rel_error
from enginebench.ops.timing import TimingPlan


def run_case(engine: OpsEngine, case: OpCase, folder: Path, precision: str,
             plan: TimingPlan) -> CaseResult:
    """One case's outcome: status, samples, error against the reference."""
    with np.load(folder / f"{case.name}.npz") as data:
        inputs = {n: data[n] for n in data.files if n != "__ref__"}
        ref = data["__ref__"]
    try:
        run = engine.run(case, inputs, precision, plan)
    except Unsupported as e:
        return CaseResult(status="unsupported", error=str(e))
    except Exception as e:
        return CaseResult(status="failed", error=f"{type(e).__name__}: {e}",
                          traceback=traceback.format_exc(limit=-3))
    try:
        err = rel_error(run.output, ref)
    except ValueError as e:
        return CaseResult(status="failed", error=f"wrong output: {e}")
    return CaseResult(status="ok", calls=run.calls, samples_s=run.samples_s, notes=run.notes,
                      max_rel_err=err, correct=err <= TOLERANCE[precision])


def run(job: OpsJob, write: Callable[[ChildResult], None]) -> OpsResult:
    """Every case of the job, the result written after each."""
    result = OpsResult()
    try:
        engine = load_class(job.adapter)(job.threads, job.device)
        result.build = engine.build_info()
    except Unsupported as e:
        return OpsResult(status="unsupported", error=str(e))
    try:
        for case in job.cases:
            result.cases[case.name] = run_case(engine, case, Path(job.folder),
                                               job.precision, job.plan)
            write(result)
    finally:
        engine.close()
    return result
