"""Schema of a run document (version 1), validated on write and on read.

Every number must be finite (NaN and infinities are refused with the field named), and
rates, times, sizes and counts may not be negative.
"""

import functools
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
Status = Literal["ok", "unsupported", "failed", "timeout"]
# the precision classes every engine-native precision belongs to, widest first
PrecisionClass = Literal["fp32", "fp16", "bf16", "int8", "int4"]
PRECISION_CLASSES: tuple[str, ...] = ("fp32", "fp16", "bf16", "int8", "int4")


# a machine label is one safe path component: results go to <out>/<label>/<run>.json
MACHINE_LABEL = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$"
NonNeg = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Count = Annotated[int, Field(ge=1)]
Pct = Annotated[float, Field(ge=0, le=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Stat(_Strict):
    """Summary of one metric over repetitions, with every raw sample kept."""

    median: NonNeg
    mean: NonNeg
    sd: NonNeg
    ci95: tuple[float, float]
    cv: NonNeg | None
    samples: list[NonNeg] = Field(description="every raw sample; empty where only a "
                                  "median was kept (asv's results)")
    outliers: list[int] = Field(description="indices of samples outside Tukey's fences")
    round_medians: list[NonNeg]
    round_cv: NonNeg | None


class Percentiles(_Strict):
    p50: NonNeg
    p90: NonNeg
    p99: NonNeg


class Metrics(_Strict):
    prefill_tps: Stat | None = Field(None, description="prompt ids of all B sequences over "
                                     "the batch's TTFT")
    decode_tps: Stat | None = Field(None, description="aggregate: B x (N - 1) over the time "
                                    "from the first token to the last")
    seq_decode_tps: Stat | None = Field(None, description="per sequence, (N - 1) over the "
                                        "same time; batch cells only (at B = 1 it is "
                                        "decode_tps)")
    ttft_ms: Stat | None = None
    e2e_ms: Stat | None = None
    itl_ms: Percentiles | None = None
    peak_rss_mb: NonNeg | None = None
    peak_device_mb: NonNeg | None = None
    load_s: NonNeg | None = None
    compile_s: NonNeg | None = Field(None, description="first-use compile time of JIT engines, "
                                    "not counted in any rate")
    convert_s: NonNeg | None = Field(None, description="time the conversion that made the "
                                    "artifact took (also when this run found it cached)")
    prepare_s: NonNeg | None = Field(None, description="time this run spent getting the "
                                    "artifact: converting, or checking the cached one")
    artifact_cached: bool | None = None
    artifact_bytes: int | None = Field(None, ge=0)
    bytes_per_token: NonNeg | None = Field(None, description="lower bound on the bytes a "
                                          "decode step reads (measure/roofline.py)")
    bandwidth_gbs: Positive | None = Field(None, description="memory bandwidth the bound "
                                           "uses")
    roofline_tps: Positive | None = Field(None, description="decode tok/s the memory "
                                          "bandwidth allows at most")
    roofline_pct: NonNeg | None = Field(None, description="median decode tok/s as % of it")


class Quality(_Strict):
    """The cell against the fp32 reference on the same checkpoint (measure/quality.py)."""

    reference: str = Field(description="engine, precision and version of the reference")
    tokens: Count = Field(description="positions compared, teacher-forced")
    kl_mean: float
    kl_p99: float
    top1_agree_pct: Pct
    max_abs_logit_err: NonNeg
    max_rel_logit_err: NonNeg | None = Field(None, description="max_abs_logit_err over the "
                                            "reference's largest |logit|")
    first_diff_token: int | None = Field(description="index of the first generated token "
                                         "that differs from the reference's greedy output; "
                                         "None when all agree")
    first_diff_margin: float | None = Field(None, description="the reference's top-1 lead "
                                            "over its top-2 at first_diff_token, over that "
                                            "step's largest |logit|: small is a near-tie")
    perplexity: Positive | None = Field(None, description="on the shipped evaluation "
                                        "text; trained checkpoints only")
    seconds: NonNeg = Field(description="time of the extra forward pass and the divergence "
                            "prompts' generations, not in any rate")
    diverge_tokens: Count | None = Field(None, description="greedy tokens generated for "
                                          "each divergence prompt")
    first_diffs: list[int | None] = Field(default_factory=list, description="per divergence "
                                          "prompt: the first generated token that differs "
                                          "from the reference's; None when all agree")
    first_diff_min: int | None = Field(None, description="the smallest of first_diffs, a "
                                       "prompt that agrees throughout counting as "
                                       "diverge_tokens")
    first_diff_median: float | None = Field(None, description="the median of first_diffs, "
                                            "counted as first_diff_min is")


class Point(_Strict):
    """One workload point: P prompt ids, N new tokens, B sequences decoded together."""

    model_config = ConfigDict(extra="forbid", frozen=True)  # hashable: a key of tables

    prompt_tokens: Count
    new_tokens: Count
    batch: Count = 1

    @property
    def label(self) -> str:
        return f"pp{self.prompt_tokens} tg{self.new_tokens} b{self.batch}"


class Cell(_Strict):
    engine: str
    engine_version: str | None
    precision: str
    precision_class: PrecisionClass
    device: str
    status: Status
    error: str | None = None
    notes: list[str] = []
    tokens_generated: int | None = Field(None, ge=0)
    output_ids: list[int] | None = None
    outputs_consistent: bool | None = Field(
        None, description="every repetition generated the same ids as the first")
    rounds: int = Field(0, ge=0)
    build: dict = {}
    metrics: Metrics = Metrics()
    quality: Quality | None = None
    quality_error: str | None = None
    implausible: str | None = Field(None, description="why the result is above the "
                                    "memory-bandwidth bound; None when it is not")
    point: Point | None = Field(None, description="the cell's workload point; None in runs "
                                "of one point (the run's workload is it)")
    first_diffs: list[int | None] | None = Field(
        None, description="per sequence: the first generated token that differs from the "
        "fp32 reference's greedy output for its prompt; None when all agree")
    rerun: str | None = Field(None, description="the `enginebench run` command that "
                              "measures this cell alone at the same point and settings")


class Machine(_Strict):
    label: str = Field(pattern=MACHINE_LABEL, description="letters, digits, '-', '_', '.'; "
                       "not starting with '.' or '-'")
    cpu: str
    arch: str
    physical_cores: Count | None
    logical_cores: Count | None
    ram_gb: NonNeg
    gpu: list[str] = []


class Workload(_Strict):
    prompt_tokens: Count
    new_tokens: Count
    warmups: int = Field(ge=0)
    reps: Count
    threads: Count
    rounds: Count = 1
    batch: Count = 1
    budget_s: Positive | None = Field(None, description="a cell stopped measuring once it "
                                      "had 3 reps and its reps took this many seconds")
    order_seed: int | None = Field(None, description="round r ran the cells in "
                                   "random.Random(f'{order_seed}/{r}')'s shuffle of the grid; "
                                   "None: every round in the grid's order")
    prompt_ids: list[int] = Field([], description="sequence 0's prompt at the longest "
                                  "prompt length; a point of P ids takes the first P")
    batch_prompt_ids: list[list[int]] = Field([], description="every sequence's prompt at "
                                              "the longest length, where a point has B > 1")
    points: list[Point] = Field([], description="every point of the sweep; empty in runs of "
                                "one point")


class Run(_Strict):
    schema_version: Literal[1]
    run_id: str
    created_at: datetime
    finished_at: datetime | None = Field(None, description="when the last cell's last round "
                                         "ended; absent while a run is under way or was cut "
                                         "off, and in files written before it was recorded")
    command: str
    machine: Machine
    environment: dict
    model: dict
    workload: Workload
    quality: dict | None = Field(None, description="the fp32 reference and the quality ids, "
                                 "or why quality was not measured")
    cells: list[Cell]

    @property
    def wall_s(self) -> float | None:
        """Seconds from the run's start to its last cell's end, where the run finished."""
        return (self.finished_at - self.created_at).total_seconds() \
            if self.finished_at else None

    def point(self, cell: Cell) -> Point:
        """The cell's workload point (a run of one point gives it in its workload)."""
        if cell.point is not None:
            return cell.point
        w = self.workload
        return _point(w.prompt_tokens, w.new_tokens, w.batch)

    def headline_point(self) -> Point:
        """The point tables that show one point per run use: the default pp128 tg128 b1
        where the run has it, else its first."""
        points = [self.point(c) for c in self.cells] or [self.point(Cell.model_construct())]
        return DEFAULT_POINT if DEFAULT_POINT in points else points[0]

    def headline_cells(self) -> list[Cell]:
        """The cells at `headline_point` (every cell of a run of one point)."""
        head = self.headline_point()
        return [c for c in self.cells if self.point(c) == head]


DEFAULT_POINT = Point(prompt_tokens=128, new_tokens=128, batch=1)


@functools.cache
def _point(prompt_tokens: int, new_tokens: int, batch: int) -> Point:
    """One shared (frozen) Point per workload: the site asks a run for its cells' points
    millions of times, and the workload's fields are validated already."""
    return Point.model_construct(prompt_tokens=prompt_tokens, new_tokens=new_tokens,
                                 batch=batch)


# --- operator benchmarks (`enginebench ops`): a document of their own, kind "ops" ---

class OpsWorkload(_Strict):
    prompt_tokens: Count = Field(description="tokens of the prefill cases (M of the "
                                 "matmuls)")
    context: Count = Field(description="KV cache length of the decode attention case")
    peak_size: Count = Field(description="n of the n x n x n matmul that measures peak "
                             "FLOP/s")
    warmups: int = Field(ge=0)
    reps: Count
    min_sample_ms: NonNeg = Field(description="calls per sample are doubled until a sample "
                                  "lasts this long")
    threads: Count


class Ceilings(_Strict):
    """The machine's roofline: best square-matmul rate per precision, and bandwidth. A
    precision's compute roof is the faster of its peak and fp32's (ops/roofline.py)."""

    peak_gflops: dict[str, Positive] = Field(description="precision class -> GFLOP/s of the "
                                          "fastest sample of any engine on the peak matmul")
    peak_engine: dict[str, str]
    peak_case: str
    bandwidth: dict | None = Field(description="measure/bandwidth.py's points, or why not")
    dram_gbs: Positive | None = Field(description="best kernel at the largest working set")


class OpResult(_Strict):
    case: str
    op: str
    shape: str
    engine: str
    engine_version: str | None
    precision: PrecisionClass
    device: str
    status: Status
    error: str | None = None
    notes: list[str] = []
    flops: NonNeg
    bytes: NonNeg = Field(description="least bytes moved: inputs read and output written "
                         "once, weights at the precision's size")
    intensity: NonNeg = Field(description="flops / bytes")
    calls: Count | None = Field(None, description="calls timed per sample")
    time_us: Stat | None = Field(None, description="microseconds per call, per sample")
    gflops: NonNeg | None = None
    gbs: NonNeg | None = None
    roof_gflops: NonNeg | None = Field(None, description="min(peak, intensity x bandwidth "
                                      "at the op's working set)")
    bound: Literal["compute", "memory"] | None = None
    roofline_pct: NonNeg | None = Field(None, description="attained GFLOP/s as % of roof")
    implausible: str | None = None
    max_rel_err: NonNeg | None = Field(None, description="max |out - ref| / max |ref| "
                                       "against NumPy float64")
    tolerance: NonNeg
    correct: bool | None = None


class OpsRun(_Strict):
    schema_version: Literal[1]
    kind: Literal["ops"]
    run_id: str
    created_at: datetime
    command: str
    machine: Machine
    environment: dict
    model: dict = Field(description="name and the config whose shapes the cases use")
    workload: OpsWorkload
    ceilings: Ceilings | None = None
    no_op_api: dict[str, str] = Field({}, description="engines with no op-level interface, "
                                      "and why")
    results: list[OpResult]
