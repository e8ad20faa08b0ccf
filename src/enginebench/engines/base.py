"""The two faces an engine's adapters implement; imports nothing heavy.

`Engine` is the model face: it declares its capabilities as data (precisions, devices, memory),
converts a checkpoint to its own artifact, loads it, and runs the workload returning the
generated ids with a timestamp per token. The harness, never the adapter, turns timestamps
into metrics.

`OpsEngine` is the operator face: it says which precision classes it runs at op level,
turns a case's float32 inputs into a call of the engine's own op API (`prepare`:
conversion is not timed), and turns that call's output back into NumPy. The harness times
the call (ops/timing.py); adapters whose engine runs in another process (the Rust runners)
time it there, with the same plan, by overriding `run`. An op face names its model face
(`model`) and shares its name, install command and version.
"""

import importlib.metadata
import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from enginebench.models.checkpoint import Checkpoint
from enginebench.models.config import ModelConfig
from enginebench.ops.cases import OpCase
from enginebench.ops.timing import TimingPlan, time_calls
from enginebench.results.schema import PRECISION_CLASSES, PrecisionClass

__all__ = ["PRECISION_CLASSES", "BatchGeneration", "Engine", "EngineFacts", "Generation",
           "LoadedModel", "MemoryModel", "OpRun", "OpsEngine", "PrecisionClass",
           "Unsupported"]


class Unsupported(Exception):
    """The engine cannot run this precision/device here; the message says why."""


# bytes per parameter an engine holds at each precision class unless it says otherwise
_WEIGHT_BYTES = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0625, "int4": 0.5625}


@dataclass(frozen=True)
class MemoryModel:
    """An engine's memory behaviour as data, per precision class; measure/memory.py turns
    it into the bytes a cell needs, before it converts or loads. A class absent from a
    table takes the default."""

    # bytes per parameter at the load's peak: what the engine holds, plus any wider copy it
    # loads first or keeps beside (default: fp32 4, fp16/bf16 2, int8 1.0625, int4 0.5625:
    # 8 or 4 bits with an fp16 scale per block of 32)
    weights: dict[str, float] = field(default_factory=dict)
    # bytes per KV-cache element (default 2): 4 where the cache is fp32, twice that where a
    # step's past and present are both alive
    kv: dict[str, float] = field(default_factory=dict)
    # the conversion's peak as (multiple of the checkpoint's bytes, bytes per parameter),
    # summed (default (1.0, 0.0): the checkpoint read whole into memory); pages of a mapped
    # checkpoint read through once do not count (measure/memory.py)
    convert: dict[str, tuple[float, float]] = field(default_factory=dict)
    # bytes of the cell's processes beyond weights, KV cache and logits: the interpreter,
    # the engine's import, its work buffers
    overhead_bytes: float = 0.5e9
    # the same for the converter's process (the converters here import torch)
    convert_overhead_bytes: float = 1.0e9

    def weight_bytes(self, precision_class: str) -> float:
        return self.weights.get(precision_class, _WEIGHT_BYTES[precision_class])

    def kv_bytes(self, precision_class: str) -> float:
        return self.kv.get(precision_class, 2.0)

    def convert_peak(self, precision_class: str) -> tuple[float, float]:
        return self.convert.get(precision_class, (1.0, 0.0))


@dataclass
class Generation:
    """Generated token ids and the `time.perf_counter()` at which each became available."""

    ids: list[int]
    times: list[float]


@dataclass
class BatchGeneration:
    """Each sequence's generated ids, and the `time.perf_counter()` at which each step's
    tokens (one per sequence) had all become available."""

    ids: list[list[int]]
    times: list[float]


@dataclass
class LoadedModel:
    """What `Engine.load` returns: the model handle plus facts about how it was loaded."""

    handle: object
    notes: list[str] = field(default_factory=list)


class EngineFacts:
    """What names an engine and its install, shared by its model and op faces."""

    name: ClassVar[str]
    # importable modules that must exist for the engine to be usable
    modules: ClassVar[tuple[str, ...]]
    # distributions whose versions identify the engine build (first is the engine itself)
    packages: ClassVar[tuple[str, ...]] = ()
    install: ClassVar[str]

    @classmethod
    def available(cls) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in cls.modules)

    @classmethod
    def version(cls) -> str | None:
        try:
            return importlib.metadata.version(cls.packages[0]) if cls.packages else None
        except importlib.metadata.PackageNotFoundError:
            return None

    @classmethod
    def package_versions(cls) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for pkg in cls.packages:
            try:
                out[pkg] = importlib.metadata.version(pkg)
            except importlib.metadata.PackageNotFoundError:
                out[pkg] = None
        return out


class Engine(EngineFacts, ABC):
    """One inference engine's model face. Subclasses fill the class attributes and the
    methods."""

    # engine-native precision name -> precision class
    precisions: ClassVar[dict[str, PrecisionClass]]
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    # True when `prepare` converts the checkpoint into an artifact of its own
    converts: ClassVar[bool] = False
    converter_version: ClassVar[str] = "1"
    # what beyond a plain Llama the engine computes as transformers does: keys of
    # `ModelConfig.features` ("rope_type:llama3", "head_dim", "tie_word_embeddings", ...),
    # each checked by the config-variation tests (tests/test_config_matrix.py)
    honours: ClassVar[frozenset[str]] = frozenset()
    # why the engine has no op face (no op-level API to drive), for engines without one
    no_ops: ClassVar[str | None] = None
    # how much memory a cell takes (measure/memory.py refuses cells that cannot fit)
    memory: ClassVar[MemoryModel] = MemoryModel()
    # why the adapter cannot generate several sequences together (cells of batch > 1 are
    # unsupported with it); None when it implements `generate_batch`
    no_batch: ClassVar[str | None] = "the adapter generates one sequence at a time"

    @classmethod
    def artifact_key(cls, precision: str) -> str:
        """What else the artifact at `precision` depends on (a setting chosen for this CPU,
        ...), part of its cache key; empty when nothing."""
        return ""

    @classmethod
    def honoured(cls, precision: str) -> frozenset[str]:
        """`honours` at `precision` (an engine whose precisions run different code may
        honour less at some)."""
        return cls.honours

    @classmethod
    def device_problem(cls, precision: str, device: str) -> str | None:
        """Why `precision` cannot run on `device` of this machine, when the engine can say
        so before converting (in its own words); None when it can or cannot tell."""
        return None

    @classmethod
    def config_problem(cls, config: ModelConfig, precision: str, context: int
                       ) -> str | None:
        """Why this engine cannot compute `config`'s model at `precision` for sequences of
        `context` tokens, naming every field it does not honour; None when it can."""
        if context > config.max_position_embeddings:
            return (f"a {context}-token sequence is longer than the model's "
                    f"max_position_embeddings {config.max_position_embeddings}")
        missing = [desc for key, desc in config.features(context).items()
                   if key not in cls.honoured(precision)]
        if not missing:
            return None
        return f"{cls.name} {precision} does not honour {'; '.join(missing)}"

    @classmethod
    def needs_artifact(cls, precision: str) -> bool:
        """Whether `precision` runs from an artifact that `prepare` makes; when not, `load`
        is given the checkpoint directory itself."""
        return cls.converts

    def build_info(self) -> dict:
        """How the engine was built (backends, CPU features); called in the cell process."""
        return {}

    def prepare(self, ckpt: Checkpoint, precision: str, out_dir: Path) -> None:
        """Convert `ckpt` into this engine's artifact at `precision`, written into `out_dir`."""
        raise NotImplementedError(f"{self.name} does not convert checkpoints")

    @abstractmethod
    def load(self, ckpt: Checkpoint, artifact: Path, precision: str, device: str,
             threads: int, context: int) -> LoadedModel:
        """Load the artifact (the checkpoint itself when `converts` is False).

        `context` is the most tokens a sequence will hold (prompt plus new tokens), for
        engines that size their KV cache up front.
        """

    @abstractmethod
    def generate(self, model: LoadedModel, prompt_ids: list[int], new_tokens: int
                 ) -> Generation:
        """Feed `prompt_ids`, then generate exactly `new_tokens` greedily, EOS ignored."""

    def generate_batch(self, model: LoadedModel, prompts: list[list[int]], new_tokens: int
                       ) -> BatchGeneration:
        """Feed every prompt (all of one length) as one batch, then generate exactly
        `new_tokens` greedily for each sequence together, one decode step for all per
        token; stamp each step when every sequence's token of it exists."""
        raise Unsupported(f"{self.name}: {self.no_batch}")

    @abstractmethod
    def logits(self, model: LoadedModel, ids: list[int]) -> np.ndarray:
        """Teacher-forced next-token logits for every position of `ids`: [len(ids), vocab]."""

    def close(self, model: LoadedModel) -> None:
        """Release what `load` started (a runner process, ...); may add to `model.notes`."""
        return None

    def compile_s(self, model: LoadedModel) -> float | None:
        """Seconds the engine spent compiling on first use (JIT engines), reported apart
        from steady-state speed; None for engines that do not compile at run time."""
        return None

    def peak_device_mb(self, model: LoadedModel) -> float | None:
        """Peak accelerator memory of the cell, where the engine can tell."""
        return None

    def process_peak_rss_mb(self, model: LoadedModel) -> float | None:
        """Peak resident memory so far of a process the engine runs the model in (a Rust
        runner); None when the model runs in the cell's own process."""
        return None


@dataclass
class OpRun:
    """One case's outcome in the child: its output, and seconds per call per sample."""

    output: np.ndarray
    calls: int
    samples_s: list[float]
    notes: list[str] = field(default_factory=list)


class OpsEngine(EngineFacts, ABC):
    """One engine's op-level API. Subclasses fill `model` (or the facts themselves, for an
    engine with no model face), `precisions` and `prepare`."""

    # the engine's model face: the op face takes its name, packages and install (its
    # `modules` stay its own: an op face may need less than the whole model path)
    model: ClassVar[type[EngineFacts] | None] = None
    # precision classes the engine has an op-level API for
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)
    # the ops a precision is limited to, where it is (quantization is of matmul weights)
    ops_at: ClassVar[dict[str, tuple[str, ...]]] = {"int8": ("matmul", "matvec"),
                                                     "int4": ("matmul", "matvec")}

    @classmethod
    def supports(cls, op: str, precision: str) -> bool:
        """Declared, not found by trial: the suite runs only these pairs."""
        return precision in cls.precisions and op in cls.ops_at.get(precision, (op,))

    def __init__(self, threads: int, device: str = "cpu") -> None:
        self.threads = threads
        self.device = device

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.model is not None:
            for fact in ("name", "packages", "install"):
                if fact not in cls.__dict__:
                    setattr(cls, fact, getattr(cls.model, fact))

    @classmethod
    def version(cls) -> str | None:
        """The engine's version (its model face's, where it has one)."""
        if cls.model is not None:
            return cls.model.version() if cls.available() else None
        return super().version()

    def build_info(self) -> dict:
        return {}

    @abstractmethod
    def prepare(self, case: OpCase, inputs: dict[str, np.ndarray], precision: str
                ) -> Callable[[], object]:
        """A call that runs the op once on inputs already in the engine's format and
        returns its output; raises Unsupported when the engine has no such op here."""

    def to_numpy(self, out: object) -> np.ndarray:
        return np.asarray(out, dtype=np.float32)

    def run(self, case: OpCase, inputs: dict[str, np.ndarray], precision: str,
            plan: TimingPlan) -> OpRun:
        fn = self.prepare(case, inputs, precision)
        output = self.to_numpy(fn())
        calls, samples = time_calls(fn, plan)
        return OpRun(output, calls, samples)

    def close(self) -> None:
        """Free what the adapter holds (processes, pools)."""
