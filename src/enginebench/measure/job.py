"""The hand-off between the harness and its child processes, typed on both sides: the job
the parent writes and the result the child writes back. Both are strict pydantic models,
as the Rust runners' `Job` is a strict struct: a field either side misspells, or a value of
the wrong type, is an error at the hand-off rather than a silent default.

Every job names its adapter ("module:Class") and its `kind`; `result_type` is the model of
what the child answers, which the parent also uses when the child ended without answering.
"""

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from enginebench.ops.cases import OpCase
from enginebench.ops.timing import TimingPlan
from enginebench.results.schema import Status

# a cell budget (--cell-budget) never cuts a cell to fewer measured reps than this
MIN_REPS = 3


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- what a child answers ---------------------------------------------------------------

class ChildResult(_Strict):
    """What every child answers: a status, why when not ok, and its own peak memory."""

    status: Status = "ok"
    error: str | None = None
    traceback: str | None = None
    peak_rss_mb: float | None = None
    # how the process ended when it wrote a result and then died or timed out
    process_error: str | None = None


class PrepareResult(ChildResult):
    convert_s: float | None = None


class TraceResult(_Strict):
    """One repetition: its start, each token's timestamp and id (`time.perf_counter()`)."""

    start: float
    times: list[float]  # a batch's: when each step's tokens of every sequence existed
    ids: list[int]  # sequence 0's
    batch_ids: list[list[int]] = Field(default_factory=list)  # every sequence's, B > 1


class QualityResult(_Strict):
    """The cell's teacher-forced logits against the reference's (measure/quality.py)."""

    tokens: int
    kl_mean: float
    kl_p99: float
    top1_agree_pct: float
    max_abs_logit_err: float
    max_rel_logit_err: float
    perplexity: float | None = None
    seconds: float
    # per divergence prompt: the ids generated greedily (measure/quality.py compares them)
    diverge_ids: list[list[int]] = Field(default_factory=list)


class MeasureResult(ChildResult):
    load_s: float | None = None
    traces: list[TraceResult] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    build: dict = Field(default_factory=dict)
    peak_device_mb: float | None = None
    compile_s: float | None = None
    quality: QualityResult | None = None
    quality_error: str | None = None


class CaseResult(_Strict):
    """One operator case: its samples and its error against the float64 reference."""

    status: Status
    error: str | None = None
    traceback: str | None = None
    calls: int | None = None
    samples_s: list[float] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    max_rel_err: float | None = None
    correct: bool | None = None


class OpsResult(ChildResult):
    build: dict = Field(default_factory=dict)
    cases: dict[str, CaseResult] = Field(default_factory=dict)


# --- what the parent asks ---------------------------------------------------------------

class _Job(_Strict):
    adapter: str  # "module:Class"
    precision: str
    device: str = "cpu"
    threads: int = 1
    result_type: ClassVar[type[ChildResult]] = ChildResult


class _ModelJob(_Job):
    checkpoint: str
    model: str
    artifact: str  # the engine's artifact folder, or the checkpoint when it converts none


class PrepareJob(_ModelJob):
    """Convert the checkpoint into the engine's artifact (written into `artifact`)."""

    kind: Literal["prepare"] = "prepare"
    result_type: ClassVar[type[ChildResult]] = PrepareResult


class QualityJob(_Strict):
    ids: list[int]
    reference: str  # the reference's .npz
    perplexity: bool
    # greedy continuations of these prompts, `diverge_tokens` each, against the reference's
    diverge_prompts: list[list[int]] = Field(default_factory=list)
    diverge_tokens: int = 0


class MeasureJob(_ModelJob):
    """Load the artifact, run the workload, and compare with the reference if asked."""

    kind: Literal["measure"] = "measure"
    prompt_ids: list[int]
    # B > 1: every sequence's prompt (the first is prompt_ids), generated together
    batch_prompts: list[list[int]] = Field(default_factory=list)
    new_tokens: int
    warmups: int
    reps: int
    # stop measuring once MIN_REPS reps are done and the measured reps took budget_s
    budget_s: float | None = None
    quality: QualityJob | None = None
    result_type: ClassVar[type[ChildResult]] = MeasureResult

    @property
    def batch(self) -> int:
        return len(self.batch_prompts) or 1

    def context(self) -> int:
        """The most tokens a sequence of this job holds."""
        q = self.quality
        return max(len(self.prompt_ids) + self.new_tokens, len(q.ids) if q else 0,
                   *(len(p) + q.diverge_tokens for p in (q.diverge_prompts if q else ())))


class ReferenceJob(_ModelJob):
    """The fp32 reference's logits, greedy ids and margins, saved to `out` (.npz)."""

    kind: Literal["reference"] = "reference"
    prompt_ids: list[int]
    new_tokens: int
    quality_ids: list[int]
    diverge_prompts: list[list[int]] = Field(default_factory=list)
    diverge_tokens: int = 0
    # the sweep's other prompts (other lengths, a batch's other sequences): greedy ids and
    # margins for each, `new_tokens` long
    prompts: list[list[int]] = Field(default_factory=list)
    out: str

    def context(self) -> int:
        return max(len(self.prompt_ids) + self.new_tokens, len(self.quality_ids),
                   *(len(p) + self.new_tokens for p in self.prompts),
                   *(len(p) + self.diverge_tokens for p in self.diverge_prompts))


class OpsJob(_Job):
    """One engine's op face at one precision over `cases`, whose inputs and float64
    references are in `folder` (<case>.npz)."""

    kind: Literal["ops"] = "ops"
    folder: str
    plan: TimingPlan
    cases: list[OpCase]
    result_type: ClassVar[type[ChildResult]] = OpsResult


Job = Annotated[PrepareJob | MeasureJob | ReferenceJob | OpsJob, Field(discriminator="kind")]
