"""Run a suite: every cell in its own process, interleaved over rounds, saved after each.

A cell is an engine x precision x device at one workload point (prompt length, new tokens,
batch); the run crosses its engine x precision specs with every point of the workload.
Cells run in rounds, every cell once per round, so a slow spell of a noisy machine falls
on all engines alike; with an order seed each round runs them in its own shuffled order
(recorded), so no cell always follows the same neighbour. The run file is rewritten
atomically after every cell, so an interrupted run keeps everything that finished.
"""

import shlex
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from enginebench.engines.base import Engine
from enginebench.engines.registry import adapter_ref
from enginebench.leftovers import staged
from enginebench.measure import artifacts, memory
from enginebench.measure.header import run_header, save_or_stop
from enginebench.measure.isolate import run_isolated
from enginebench.measure.job import (
    MeasureJob,
    MeasureResult,
    PrepareJob,
    QualityJob,
    TraceResult,
)
from enginebench.measure.metrics import Trace, cell_metrics
from enginebench.measure.reference import (
    DIVERGE_TOKENS,
    QUALITY_TOKENS,
    Reference,
    ReferenceUnavailable,
    reference,
)
from enginebench.measure.roofline import decode_bytes_per_token, roofline
from enginebench.measure.workload import (
    Point,
    Workload,
    batch_prompts,
    divergence_prompts,
    eval_ids,
)
from enginebench.models.checkpoint import Checkpoint, preset_dir
from enginebench.models.presets import PRESETS
from enginebench.results.schema import Cell, Metrics, Quality, Run
from enginebench.results.schema import Point as PointDoc

STATUS_RANK = {"ok": 0, "unsupported": 1, "timeout": 2, "failed": 3}
# An fp32 cell may leave the fp32 reference's greedy path only where the reference's top-1
# led its top-2 by less than this share of the step's largest |logit| (a near-tie), and
# its teacher-forced logits may differ from the reference's by at most this share of the
# largest |logit|; beyond either it computed another model (a misread config, ...).
NEAR_TIE = 1e-2
FP32_LOGIT_RTOL = 1e-2


@dataclass
class CellSpec:
    engine: type[Engine]
    precision: str
    device: str = "cpu"
    # the workload point, named in the label when the run has several (set by the suite)
    point: Point = field(default_factory=Point)
    sweep: bool = False

    @property
    def label(self) -> str:
        head = f"{self.engine.name} {self.precision} {self.device}"
        return f"{head} {self.point.label}" if self.sweep else head


@dataclass
class _CellState:
    """What the rounds of one cell have gathered so far."""

    spec: CellSpec
    traces: list[Trace] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)
    status: str = "ok"
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    notes_harness: list[str] = field(default_factory=list)
    build: dict = field(default_factory=dict)
    peak_rss_mb: list[float] = field(default_factory=list)
    peak_device_mb: list[float] = field(default_factory=list)
    load_s: list[float] = field(default_factory=list)
    compile_s: list[float] = field(default_factory=list)
    convert_s: float | None = None
    prepare_s: float | None = None
    artifact_cached: bool | None = None
    artifact_bytes: int | None = None
    rounds_done: int = 0
    attempted: bool = False
    quality: dict | None = None
    quality_error: str | None = None

    def fail(self, status: str, error: str | None, round_no: int) -> None:
        if STATUS_RANK[status] >= STATUS_RANK[self.status]:
            self.status = status
            self.error = f"round {round_no + 1}: {error}" if round_no else error


Progress = Callable[[CellSpec, int, str], None]


class Suite:
    """One run: a checkpoint, a workload, the cells, and where the document is saved."""

    def __init__(self, ckpt: Checkpoint, specs: list[CellSpec], workload: Workload,
                 machine_label: str, out_root: Path, timeout_s: float = 600.0,
                 command: str | None = None, quality: bool = False,
                 bandwidth: dict | None = None,
                 reference_engine: type[Engine] | None = None) -> None:
        """`quality`: compare every ok cell with the fp32 reference, PyTorch unless
        `reference_engine` says otherwise (one extra forward pass per cell); `bandwidth`:
        the machine's measured memory bandwidth (measure/bandwidth.py), which gives every
        decode result its roofline."""
        workload.validate()
        self.ckpt, self.workload = ckpt, workload
        self.timeout_s = timeout_s
        points = workload.points()
        self.points = points
        # the point whose cells also measure quality (once per engine x precision): the
        # default pp128 tg128 b1 where the sweep has it, else its first
        self.quality_point = Point() if Point() in points else points[0]
        # every sequence's prompt at the longest length; a point of P ids takes the first P
        self.prompts_long = batch_prompts(ckpt, max(workload.prompt_tokens),
                                          max(workload.batch))
        self.prompt = self.prompts(self.quality_point)[0]
        self.quality_ids = eval_ids(
            ckpt, min(QUALITY_TOKENS, ckpt.config.max_position_embeddings)) \
            if quality else None
        self.diverge = divergence_prompts(ckpt) if quality else []
        # the longest sequence the quality pass holds
        self.quality_context = max([len(self.quality_ids or ())]
                                   + [len(p) + DIVERGE_TOKENS for p in self.diverge])
        self.specs = [replace(s, point=p, sweep=len(points) > 1) for s in specs
                      for p in points]
        self.reference: Reference | None = None
        self.bandwidth = bandwidth
        self.reference_engine = reference_engine
        self.machine_label = machine_label
        self.header, self.path = run_header(
            machine_label, out_root, command=command,
            extra_env={"memory_bandwidth": bandwidth} if bandwidth else None)
        self.header.update(model=ckpt.describe(), workload={
            **workload.to_dict(), "prompt_ids": self.prompts_long[0],
            "batch_prompt_ids": self.prompts_long if max(workload.batch) > 1 else []})
        self.states = [_CellState(s) for s in self.specs]

    def prompts(self, point: Point) -> list[list[int]]:
        """The point's prompts: one per sequence, P ids each."""
        return [p[:point.prompt_tokens] for p in self.prompts_long[:point.batch]]

    def context(self, spec: CellSpec) -> int:
        """The most tokens a sequence of the cell holds: its point's, or the quality
        pass's at the quality point."""
        quality = self.quality_context if self.quality_ids and \
            spec.point == self.quality_point else 0
        return max(spec.point.context, quality)

    def run(self, progress: Progress | None = None) -> Run:
        """Run every cell for every round; returns the saved run document."""
        if self.quality_ids:
            self._prepare_reference()
        self.save("the run's header")
        for round_no in range(self.workload.rounds):
            for state in self.workload.round_order(self.states, round_no):
                if state.status != "ok":
                    continue  # a cell that failed or is unsupported is not retried
                if progress:
                    progress(state.spec, round_no, "running")
                self._run_cell(state, round_no)
                self.save(f"round {round_no + 1} of {state.spec.label}")
                if progress:
                    progress(state.spec, round_no, state.status)
        self.header["finished_at"] = datetime.now(UTC)
        return self.save("the run's end time")

    def _prepare_reference(self) -> None:
        """The fp32 reference, or a run-level note saying why quality is not measured."""
        try:
            others = [q for p in self.points for q in self.prompts(p)]
            self.reference = reference(self.ckpt, self.quality_ids, self.prompt,
                                       max(self.workload.new_tokens), self.diverge,
                                       self.workload.threads, self.timeout_s,
                                       self.reference_engine,
                                       list(dict.fromkeys(map(tuple, others))))
            self.header["quality"] = {"reference": self.reference.label,
                                      "tokens": len(self.quality_ids),
                                      "ids": self.quality_ids,
                                      "diverge_tokens": DIVERGE_TOKENS,
                                      "diverge_prompts": self.diverge}
        except ReferenceUnavailable as e:
            self.quality_ids = None
            self.header["quality"] = {"error": str(e)}

    def save(self, unsaved: str = "the last cell") -> Run:
        """Validate and save the document as it stands; `unsaved` names what a failed
        write loses."""
        done = [s for s in self.states if s.attempted]
        engines = {s.spec.engine.name: {"version": s.spec.engine.version(), "build": s.build}
                   for s in done if s.build}
        env = {**self.header["environment"], "engines": engines}
        run = Run.model_validate({**self.header, "environment": env,
                                  "cells": [self._cell(s) for s in done]})
        save_or_stop(run, self.path, unsaved)
        return run

    def _common(self, state: _CellState, artifact: Path) -> dict:
        spec = state.spec
        return {"adapter": adapter_ref(spec.engine), "checkpoint": str(self.ckpt.path),
                "model": self.ckpt.name, "precision": spec.precision, "device": spec.device,
                "threads": self.workload.threads, "artifact": str(artifact)}

    def _measure_job(self, state: _CellState, artifact: Path) -> MeasureJob:
        quality = None
        point = state.spec.point
        if self.quality_ids and self.reference and point == self.quality_point:
            quality = QualityJob(ids=self.quality_ids, reference=str(self.reference.path),
                                 perplexity=self.ckpt.trained,
                                 diverge_prompts=self.diverge, diverge_tokens=DIVERGE_TOKENS)
        prompts = self.prompts(point)
        return MeasureJob(**self._common(state, artifact), prompt_ids=prompts[0],
                          batch_prompts=prompts if point.batch > 1 else [],
                          new_tokens=point.new_tokens, warmups=self.workload.warmups,
                          reps=self.workload.reps, budget_s=self.workload.budget_s,
                          quality=quality)

    def _artifact(self, state: _CellState, round_no: int) -> Path | None:
        """The cell's artifact, converted in a child process of its own when not cached."""
        engine = state.spec.engine
        if not engine.needs_artifact(state.spec.precision):
            state.convert_s = 0.0
            state.artifact_bytes = artifacts.checkpoint_bytes(self.ckpt)
            return self.ckpt.path
        start = time.perf_counter()
        final = artifacts.artifact_dir(self.ckpt, engine, state.spec.precision)
        state.convert_s, problem = artifacts.verify(final)
        if problem:
            state.notes_harness.append(f"cached artifact rejected and rebuilt: {problem}")
            artifacts.discard(final)
        state.artifact_cached = state.convert_s is not None
        if state.convert_s is None:
            tmp = staged(final)
            artifacts.discard(tmp)
            try:
                done = run_isolated(PrepareJob(**self._common(state, tmp)), self.timeout_s,
                                    self.workload.threads)
            except BaseException:  # interrupted or terminated: no half artifact is left
                artifacts.discard(tmp)
                raise
            if done.status != "ok":
                artifacts.discard(tmp)
                state.fail(done.status, done.error, round_no)
                return None
            artifacts.commit(tmp, final, done.convert_s)
            state.convert_s = done.convert_s
        state.prepare_s = time.perf_counter() - start
        state.artifact_bytes = artifacts.size_bytes(final)
        return final

    def _run_cell(self, state: _CellState, round_no: int) -> None:
        spec = state.spec
        state.attempted = True
        if spec.device not in spec.engine.devices:
            state.fail("unsupported", f"{spec.engine.name} does not run on {spec.device}; "
                       f"devices: {', '.join(spec.engine.devices)}", round_no)
            return
        context, batch = self.context(spec), spec.point.batch
        no_batch = spec.engine.no_batch if batch > 1 else None
        problem = (f"batch {batch}: {spec.engine.name} {no_batch}" if no_batch else None) \
            or spec.engine.device_problem(spec.precision, spec.device) \
            or spec.engine.config_problem(self.ckpt.config, spec.precision, context) \
            or memory.refusal(spec.engine, self.ckpt, spec.precision, context,
                              needs_conversion=not artifacts.is_cached(
                                  self.ckpt, spec.engine, spec.precision),
                              device=spec.device, batch=batch)
        if problem:
            state.fail("unsupported", problem, round_no)
            return
        artifact = self._artifact(state, round_no)
        if artifact is None:
            return
        res = run_isolated(self._measure_job(state, artifact), self.timeout_s,
                           self.workload.threads)
        assert isinstance(res, MeasureResult)
        if res.peak_rss_mb is not None:
            state.peak_rss_mb.append(res.peak_rss_mb)
        if res.status != "ok":
            state.fail(res.status, res.error, round_no)
            return
        problem = self._check_traces(res.traces, spec.point)
        if problem:
            state.fail("failed", problem, round_no)
            return
        state.traces += [Trace(t.start, t.times, t.ids, t.batch_ids) for t in res.traces]
        state.rounds += [round_no] * len(res.traces)
        if res.load_s is not None:
            state.load_s.append(res.load_s)
        state.notes, state.build = res.notes, res.build
        if res.peak_device_mb is not None:
            state.peak_device_mb.append(res.peak_device_mb)
        if res.compile_s is not None:
            state.compile_s.append(res.compile_s)
        if res.quality is not None or res.quality_error is not None:
            state.quality = res.quality.model_dump() if res.quality else None
            state.quality_error = res.quality_error
        state.rounds_done += 1
        wrong = self._wrong_output(state)
        if wrong:
            state.fail("failed", wrong, round_no)

    def _wrong_output(self, state: _CellState) -> str | None:
        """Why an fp32 cell computed another model than the fp32 reference: its greedy ids
        leave the reference's where no near-tie explains it, or its teacher-forced logits
        are too far off. Other precision classes may differ; their quality says how much."""
        if self.reference is None or state.spec.engine.precisions[state.spec.precision] \
                != "fp32":
            return None
        label = self.reference.label
        ref = self.reference
        point = state.spec.point
        outputs = [(f"the prompt{f' of sequence {b + 1}' if point.batch > 1 else ''}",
                    ref.by_prompt[tuple(prompt)][0], ids, ref.departure(ids, prompt))
                   for b, (prompt, ids) in enumerate(zip(self.prompts(point),
                                                         state.traces[-1].sequences,
                                                         strict=True))]
        diverge_ids = (state.quality or {}).get("diverge_ids") or []
        if len(diverge_ids) == len(ref.diverge_greedy):
            outputs += [(f"divergence prompt {n + 1}", g, ids, d) for n, (g, ids, d) in
                        enumerate(zip(ref.diverge_greedy, diverge_ids,
                                      ref.divergences(diverge_ids), strict=True))]
        for where, greedy, ids, (k, margin) in outputs:
            if k is None or margin is None:
                continue
            if margin >= NEAR_TIE:
                return (f"wrong output: on {where}, greedy token {k} is {ids[k]}, {label} "
                        f"gives {greedy[k]} with a lead of {margin:.3f} of its largest "
                        f"logit over the runner-up (a near-tie is < {NEAR_TIE}); an fp32 "
                        "engine that computes the same model cannot depart there")
            note = (f"greedy ids on {where} leave {label}'s from token {k} on, at a "
                    f"near-tie (its top-1 led by {margin:.2g} of its largest logit)")
            if note not in state.notes_harness:
                state.notes_harness.append(note)
        rel = (state.quality or {}).get("max_rel_logit_err")
        if rel is not None and rel > FP32_LOGIT_RTOL:
            return (f"wrong output: teacher-forced logits differ from {label}'s by "
                    f"{rel:.2e} of its largest logit (an fp32 engine stays within "
                    f"{FP32_LOGIT_RTOL}); it computed another model")
        return None

    def _check_traces(self, traces: list[TraceResult], point: Point) -> str | None:
        """The harness's checks on what the engine returned: count, ids, timestamps; for
        a batch, B sequences of exactly N ids each."""
        n, vocab = point.new_tokens, self.ckpt.vocab_size
        for k, t in enumerate(traces):
            if point.batch > 1 and len(t.batch_ids) != point.batch:
                return (f"repetition {k + 1} returned {len(t.batch_ids)} sequences for a "
                        f"batch of {point.batch}")
            for b, ids in enumerate(t.batch_ids or [t.ids]):
                seq = f", sequence {b + 1}," if point.batch > 1 else ""
                if len(ids) != n:
                    return (f"repetition {k + 1}{seq} returned {len(ids)} ids; expected "
                            f"exactly {n}")
                if any(not 0 <= i < vocab for i in ids):
                    return (f"repetition {k + 1}{seq} returned a token id outside "
                            f"[0, {vocab})")
            if len(t.times) != n:
                return (f"repetition {k + 1} returned {len(t.times)} timestamps; expected "
                        f"exactly {n} (one per step)")
            if t.times[0] < t.start or any(b < a for a, b in
                                            zip(t.times, t.times[1:], strict=False)):
                return f"repetition {k + 1} returned timestamps that go backwards"
            if not t.times[0] > t.start or not t.times[-1] > t.times[0]:
                return (f"repetition {k + 1} stamped its first token at its start or all "
                        f"{n} tokens at one time, so its prefill or decode took no time; "
                        "the adapter must stamp each token when the engine returns it")
        return None

    def _cell(self, state: _CellState) -> Cell:
        spec = state.spec
        point = spec.point
        timing = (cell_metrics(state.traces, state.rounds, point.prompt_tokens, point.batch)
                  if state.traces else {})
        precision_class = spec.engine.precisions[spec.precision]
        bound = {}
        if self.bandwidth and "points" in self.bandwidth and timing.get("decode_tps"):
            per_token = decode_bytes_per_token(self.ckpt.config, precision_class,
                                               point.prompt_tokens, point.new_tokens,
                                               point.batch)
            bound = roofline(timing["decode_tps"]["median"], per_token, self.bandwidth)
        metrics = Metrics(
            **timing,
            **{k: v for k, v in bound.items() if k in Metrics.model_fields},
            peak_rss_mb=max(state.peak_rss_mb, default=None),
            peak_device_mb=max(state.peak_device_mb, default=None),
            load_s=statistics.median(state.load_s) if state.load_s else None,
            compile_s=statistics.median(state.compile_s) if state.compile_s else None,
            convert_s=state.convert_s,
            prepare_s=state.prepare_s,
            artifact_cached=state.artifact_cached,
            artifact_bytes=state.artifact_bytes,
        )
        first = state.traces[0].ids if state.traces else None
        return Cell(
            engine=spec.engine.name,
            engine_version=spec.engine.version(),
            precision=spec.precision,
            precision_class=precision_class,
            device=spec.device,
            status=state.status,
            error=state.error,
            notes=state.notes + state.notes_harness,
            tokens_generated=len(first) if first else None,
            output_ids=first,
            outputs_consistent=all(t.sequences == state.traces[0].sequences
                                   for t in state.traces) if first else None,
            rounds=state.rounds_done,
            build=state.build,
            metrics=metrics,
            quality=self._quality(state, first),
            quality_error=state.quality_error,
            implausible=bound.get("implausible"),
            point=PointDoc(**vars(point)),
            first_diffs=self._first_diffs(state),
            rerun=self.rerun_command(spec),
        )

    def rerun_command(self, spec: CellSpec) -> str:
        """The `enginebench run` that measures this cell alone at the same workload point,
        threads, repetitions, device and machine label."""
        ckpt, w, point = self.ckpt, self.workload, spec.point
        preset = PRESETS.get(ckpt.name)
        model = ckpt.name if preset and ckpt.path == preset_dir(preset) else str(ckpt.path)
        quality = bool(self.quality_ids) and point == self.quality_point
        args = ["--model", model, "--engines", spec.engine.name, "--precisions",
                spec.precision, "--device", spec.device,
                "--prompt-tokens", point.prompt_tokens, "--new-tokens", point.new_tokens,
                "--batch", point.batch, "--warmups", w.warmups, "--reps", w.reps,
                "--rounds", w.rounds, "--threads", w.threads, "--timeout", f"{self.timeout_s:g}",
                *(["--cell-budget", f"{w.budget_s:g}"] if w.budget_s is not None else []),
                "--quality", "on" if quality else "off",
                "--roofline", "on" if self.bandwidth else "off",
                "--machine", self.machine_label]
        return shlex.join(["enginebench", "run", *map(str, args)])

    def _first_diffs(self, state: _CellState) -> list[int | None] | None:
        """Per sequence: where its ids leave the reference's greedy ids for its prompt."""
        if self.reference is None or not state.traces:
            return None
        return [self.reference.departure(ids, prompt)[0] for prompt, ids in
                zip(self.prompts(state.spec.point), state.traces[0].sequences, strict=True)]

    def _quality(self, state: _CellState, first: list[int] | None) -> Quality | None:
        if state.quality is None or self.reference is None:
            return None
        k, margin = self.reference.departure(first or [])
        measured = dict(state.quality)
        outputs = measured.pop("diverge_ids", None) or []
        diverge = {}
        if outputs and len(outputs) == len(self.reference.diverge_greedy):
            firsts = [d for d, _ in self.reference.divergences(outputs)]
            counted = [DIVERGE_TOKENS if d is None else d for d in firsts]
            diverge = {"diverge_tokens": DIVERGE_TOKENS, "first_diffs": firsts,
                       "first_diff_min": min(counted),
                       "first_diff_median": statistics.median(counted)}
        return Quality(reference=self.reference.label, first_diff_token=k,
                       first_diff_margin=margin, **measured, **diverge)
