"""Schema of a run document (version 1), validated on write and on read."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
Status = Literal["ok", "unsupported", "failed", "timeout"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Stat(_Strict):
    """Summary of one metric over repetitions, with every raw sample kept."""

    median: float
    mean: float
    sd: float
    ci95: tuple[float, float]
    cv: float | None
    samples: list[float]
    outliers: list[int] = Field(description="indices of samples outside Tukey's fences")
    round_medians: list[float]
    round_cv: float | None


class Percentiles(_Strict):
    p50: float
    p90: float
    p99: float


class Metrics(_Strict):
    prefill_tps: Stat | None = None
    decode_tps: Stat | None = None
    ttft_ms: Stat | None = None
    e2e_ms: Stat | None = None
    itl_ms: Percentiles | None = None
    peak_rss_mb: float | None = None
    peak_device_mb: float | None = None
    load_s: float | None = None
    compile_s: float | None = Field(None, description="first-use compile time of JIT engines, "
                                    "not counted in any rate")
    convert_s: float | None = Field(None, description="time the conversion that made the "
                                    "artifact took (also when this run found it cached)")
    prepare_s: float | None = Field(None, description="time this run spent getting the "
                                    "artifact: converting, or checking the cached one")
    artifact_cached: bool | None = None
    artifact_bytes: int | None = None


class Cell(_Strict):
    engine: str
    engine_version: str | None
    precision: str
    precision_class: Literal["fp32", "fp16", "bf16", "int8", "int4"]
    device: str
    status: Status
    error: str | None = None
    notes: list[str] = []
    tokens_generated: int | None = None
    output_ids: list[int] | None = None
    outputs_consistent: bool | None = Field(
        None, description="every repetition generated the same ids as the first")
    rounds: int = 0
    build: dict = {}
    metrics: Metrics = Metrics()


class Machine(_Strict):
    label: str
    cpu: str
    arch: str
    physical_cores: int | None
    logical_cores: int | None
    ram_gb: float
    gpu: list[str] = []


class Workload(_Strict):
    prompt_tokens: int
    new_tokens: int
    warmups: int
    reps: int
    threads: int
    rounds: int = 1
    prompt_ids: list[int] = []


class Run(_Strict):
    schema_version: Literal[1]
    run_id: str
    created_at: datetime
    command: str
    machine: Machine
    environment: dict
    model: dict
    workload: Workload
    cells: list[Cell]
