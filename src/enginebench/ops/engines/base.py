"""The interface every ops adapter implements; imports nothing heavy.

An adapter says which precision classes it runs at op level, turns a case's float32
inputs into a call of the engine's own op API (`prepare`: conversion is not timed), and
turns that call's output back into NumPy. The harness times the call (ops/timing.py);
adapters whose engine runs in another process (the Rust runners) time it there, with the
same plan, by overriding `run`.
"""

import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from enginebench.engines.base import Unsupported
from enginebench.ops.cases import OpCase
from enginebench.ops.timing import TimingPlan, time_calls

__all__ = ["OpRun", "OpsEngine", "Unsupported"]


@dataclass
class OpRun:
    """One case's outcome in the child: its output, and seconds per call per sample."""

    output: np.ndarray
    calls: int
    samples_s: list[float]
    notes: list[str] = field(default_factory=list)


class OpsEngine(ABC):
    """One engine's op-level API. Subclasses fill the class attributes and `prepare`."""

    name: ClassVar[str]
    # importable modules that must exist for the adapter to be usable
    modules: ClassVar[tuple[str, ...]]
    install: ClassVar[str]
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

    @classmethod
    def available(cls) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in cls.modules)

    @classmethod
    def version(cls) -> str | None:
        """The model engine's version string (same package), where there is one."""
        from enginebench.engines.registry import ENGINES, engine_class

        if cls.name in ENGINES and cls.available():
            return engine_class(cls.name).version()
        return None

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

    def close(self) -> None:  # noqa: B027 (most adapters hold nothing to free)
        """Free what the adapter holds (processes, pools)."""
