"""The child-process side of an ops cell: one engine at one precision over every case.

Run as `python -m enginebench.ops.child JOB RESULT` (through measure/isolate.py). Inputs
and the float64 reference of each case are read from the job's folder; each case's
outcome, with its error against the reference, is written to RESULT after the case, so a
crash keeps the cases before it.
"""

import json
import sys
import traceback
from pathlib import Path

import numpy as np

from enginebench.engines.registry import load_class
from enginebench.ops.cases import TOLERANCE, OpCase, rel_error
from enginebench.ops.engines.base import OpsEngine, Unsupported
from enginebench.ops.timing import TimingPlan
from enginebench.results.store import write_atomic


def run_case(engine: OpsEngine, case: OpCase, folder: Path, precision: str,
             plan: TimingPlan) -> dict:
    """One case's outcome: status, samples, error against the reference."""
    with np.load(folder / f"{case.name}.npz") as data:
        inputs = {n: data[n] for n in data.files if n != "__ref__"}
        ref = data["__ref__"]
    try:
        run = engine.run(case, inputs, precision, plan)
    except Unsupported as e:
        return {"status": "unsupported", "error": str(e)}
    except Exception as e:
        return {"status": "failed", "error": f"{type(e).__name__}: {e}",
                "traceback": traceback.format_exc(limit=-3)}
    try:
        err = rel_error(run.output, ref)
    except ValueError as e:
        return {"status": "failed", "error": f"wrong output: {e}"}
    return {"status": "ok", "calls": run.calls, "samples_s": run.samples_s,
            "notes": run.notes, "max_rel_err": err, "correct": err <= TOLERANCE[precision]}


def run_job(job: dict, result_file: Path) -> None:
    cases = [OpCase.from_dict(c) for c in job["cases"]]
    result: dict = {"status": "ok", "cases": {}}
    try:
        engine = load_class(job["adapter"])(job["threads"], job["device"])
        result["build"] = engine.build_info()
    except Unsupported as e:
        result.update(status="unsupported", error=str(e))
        cases = []
    plan = TimingPlan(**job["plan"])
    for case in cases:
        result["cases"][case.name] = run_case(engine, case, Path(job["folder"]),
                                              job["precision"], plan)
        write_atomic(result_file, json.dumps(result))
    if cases:
        engine.close()
    write_atomic(result_file, json.dumps(result))


def main(argv: list[str]) -> int:
    job_file, result_file = Path(argv[0]), Path(argv[1])
    try:
        run_job(json.loads(job_file.read_text()), result_file)
    except Exception as e:  # the engine could not even start: say why, for every case
        write_atomic(result_file, json.dumps({"status": "failed", "cases": {},
                                              "error": f"{type(e).__name__}: {e}"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
