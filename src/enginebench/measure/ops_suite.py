"""Run the operator benchmarks: every engine x precision in its own process over every case,
then the machine's ceilings and each result's place under the roofline, saved atomically
after every engine x precision.
"""

import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from enginebench.engines.base import OpsEngine
from enginebench.engines.registry import adapter_ref, no_op_api
from enginebench.leftovers import temp_prefix
from enginebench.measure import roofline
from enginebench.measure.header import run_header, save_or_stop
from enginebench.measure.isolate import run_isolated
from enginebench.measure.job import CaseResult, OpsJob, OpsResult
from enginebench.models.config import ModelConfig
from enginebench.ops.cases import TOLERANCE, OpCase, model_cases, peak_case, reference
from enginebench.ops.timing import TimingPlan
from enginebench.results.schema import Ceilings, OpResult, OpsRun, OpsWorkload
from enginebench.results.stats import summarize

# working sets the bandwidth is measured at: ops are small, so 1 MB (a core's L2) too
BANDWIDTH_SIZES_MB = (1, 8, 32, 128, 512)
Progress = Callable[[str, str], None]


@dataclass
class OpsSpec:
    """What to run: engines, precisions, the cases' shapes and how to time them."""

    engines: list[type[OpsEngine]]
    precisions: list[str] | None  # classes; None: all each engine has
    model: str
    config: ModelConfig
    prompt_tokens: int = 128
    context: int = 256
    peak_size: int = 1024
    ops: list[str] | None = None  # op or case names; None: all
    plan: TimingPlan = field(default_factory=TimingPlan)
    threads: int = 1
    device: str = "cpu"
    timeout_s: float = 600.0

    def cases(self) -> list[OpCase]:
        cases = model_cases(self.config, self.prompt_tokens, self.context)
        if self.ops:
            cases = [c for c in cases if c.op in self.ops or c.name in self.ops]
        return [peak_case(self.peak_size), *cases]

    def cells(self) -> list[tuple[type[OpsEngine], str, list[OpCase]]]:
        """Each engine x precision with the cases it runs (as its adapter declares)."""
        cases = self.cases()
        out = []
        for cls in self.engines:
            for p in cls.precisions:
                mine = [c for c in cases if cls.supports(c.op, p)]
                if mine and (self.precisions is None or p in self.precisions):
                    out.append((cls, p, mine))
        return out


def write_inputs(cases: list[OpCase], folder: Path) -> None:
    """Each case's inputs and float64 reference, once for every engine."""
    for case in cases:
        inputs = case.make_inputs()
        np.savez(folder / f"{case.name}.npz", **inputs, __ref__=reference(case, inputs))


def op_result(case: OpCase, engine: type[OpsEngine], version: str | None, precision: str,
              device: str, raw: CaseResult) -> OpResult:
    """The harness's view of one case: status, per-call time, rates (roof added later)."""
    nbytes = case.bytes(precision)
    base = {"case": case.name, "op": case.op, "shape": case.shape_text(),
            "engine": engine.name, "engine_version": version,
            "precision": precision, "device": device, "flops": case.flops, "bytes": nbytes,
            "intensity": case.flops / nbytes, "tolerance": TOLERANCE[precision]}
    if raw.status != "ok":
        return OpResult(**base, status=raw.status, error=raw.error)
    us = [s * 1e6 for s in raw.samples_s]
    med_s = statistics.median(raw.samples_s)
    status, error = "ok", None
    if not raw.correct:
        status, error = "failed", (f"wrong result: max relative error {raw.max_rel_err:.2e} "
                                   f"> {TOLERANCE[precision]:g} against NumPy float64")
    return OpResult(**base, status=status, error=error, notes=raw.notes,
                    calls=raw.calls, time_us=summarize(us), gflops=case.flops / med_s / 1e9,
                    gbs=nbytes / med_s / 1e9, max_rel_err=raw.max_rel_err,
                    correct=raw.correct)


def ceilings(results: list[OpResult], peak: OpCase, bandwidth: dict | None) -> Ceilings:
    """Best peak-matmul rate per precision over engines, and the DRAM bandwidth. A ceiling
    is a best, like STREAM's best pass: the fastest sample of the peak case, not its median
    (a median from a busy machine would put ops above the roof)."""
    best: dict[str, tuple[float, str]] = {}
    for r in results:
        if r.case == peak.name and r.status == "ok" and r.time_us:
            rate = r.flops / min(r.time_us.samples) / 1e3
            if rate > best.get(r.precision, (0.0, ""))[0]:
                best[r.precision] = (rate, r.engine)
    dram = None
    if bandwidth and bandwidth.get("points"):
        last = max(bandwidth["points"], key=lambda p: p["bytes"])
        dram = max(v for k, v in last.items() if k.endswith("_gbs"))
    return Ceilings(peak_gflops={p: g for p, (g, _) in best.items()},
                    peak_engine={p: e for p, (_, e) in best.items()}, peak_case=peak.name,
                    bandwidth=bandwidth, dram_gbs=dram)


def place_under_roof(results: list[OpResult], ceil: Ceilings) -> None:
    """Fill each ok result's roof, bound, % of roof and implausibility."""
    for r in (r for r in results if r.status == "ok"):
        roof, bound = roofline.roof(r.flops, r.bytes,
                                    roofline.peak_for(ceil.peak_gflops, r.precision),
                                    ceil.bandwidth)
        r.roof_gflops, r.bound = roof, bound
        if roof:
            r.roofline_pct = 100 * r.gflops / roof
            r.implausible = roofline.op_implausible(r.roofline_pct, r.bytes, bound,
                                                 ceil.bandwidth)


def run_ops(spec: OpsSpec, label: str, out_root: Path, progress: Progress,
            bandwidth: dict | None = None) -> tuple[OpsRun, Path]:
    """Run every engine x precision over the cases; the document and where it was saved."""
    cases = spec.cases()
    header, path = run_header(label, out_root, prefix="ops-", extra_env={
        "engines": {cls.name: {"version": cls.version()} for cls in spec.engines}})
    doc = OpsRun(
        **header, kind="ops",
        model={"name": spec.model, "config": spec.config.to_dict()},
        workload=OpsWorkload(prompt_tokens=spec.prompt_tokens, context=spec.context,
                             peak_size=spec.peak_size, warmups=spec.plan.warmups,
                             reps=spec.plan.reps, min_sample_ms=spec.plan.min_sample_s * 1e3,
                             threads=spec.threads),
        no_op_api=no_op_api(), results=[])
    with tempfile.TemporaryDirectory(prefix=temp_prefix("ops")) as tmp:
        progress("inputs", f"{len(cases)} cases: inputs and float64 references")
        write_inputs(cases, Path(tmp))
        for cls, precision, mine in spec.cells():
            progress("running", f"{cls.name} {precision}")
            job = OpsJob(adapter=adapter_ref(cls), precision=precision, threads=spec.threads,
                         device=spec.device, folder=tmp, plan=spec.plan, cases=mine)
            outcome = run_isolated(job, spec.timeout_s, spec.threads)
            assert isinstance(outcome, OpsResult)
            if outcome.build:
                doc.environment["engines"][cls.name]["build"] = outcome.build
            doc.results += cell_results(mine, cls, doc.environment["engines"][cls.name]
                                        ["version"], precision, spec.device, outcome)
            states = [r.status for r in doc.results[-len(mine):]]
            progress("done", f"{cls.name} {precision}: " + ", ".join(
                f"{states.count(s)} {s}" for s in dict.fromkeys(states)))
            doc.ceilings = ceilings(doc.results, cases[0], bandwidth)
            place_under_roof(doc.results, doc.ceilings)
            save_or_stop(doc, path, f"{cls.name} {precision}")
    save_or_stop(doc, path, "the last ceilings")
    return doc, path


def cell_results(cases: list[OpCase], cls: type[OpsEngine], version: str | None,
                 precision: str, device: str, result: OpsResult) -> list[OpResult]:
    """Every case of one child; cases it never reached carry why the child ended."""
    ended = result.process_error or result.error or "no result"
    if result.status == "unsupported":
        missing = CaseResult(status="unsupported", error=ended)
    else:
        missing = CaseResult(status="failed",
                             error=f"the engine's process ended before this case: {ended}")
    return [op_result(c, cls, version, precision, device, result.cases.get(c.name, missing))
            for c in cases]
