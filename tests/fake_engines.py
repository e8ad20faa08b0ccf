"""Fake engines for the harness tests: known timestamps, crashes, hangs and errors.

They are imported by the cell child processes, so the tests put this folder on PYTHONPATH.
"""

import ctypes
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

import numpy as np

from enginebench.engines.base import (
    BatchGeneration,
    Engine,
    Generation,
    LoadedModel,
    PrecisionClass,
    Unsupported,
)
from enginebench.engines.numpy.ops import NumpyOps
from enginebench.engines.rust.runner import RustRunnerEngine
from enginebench.engines.torch.model import TorchEngine
from enginebench.models.checkpoint import Checkpoint
from enginebench.ops.cases import OpCase


class FakeEngine(Engine):
    """Returns ids 0..N-1 stamped 10 ms apart after a 50 ms 'prefill', without waiting."""

    name = "fake"
    modules = ("numpy",)
    packages = ("numpy",)
    install = "nothing to install"
    precisions: ClassVar[dict[str, PrecisionClass]] = {"fp32": "fp32", "int8": "int8"}

    def load(self, ckpt: Checkpoint, artifact: Path, precision: str, device: str,
             threads: int, context: int) -> LoadedModel:
        return LoadedModel(handle=ckpt.vocab_size, notes=[f"artifact={artifact}"])

    def generate(self, model: LoadedModel, prompt_ids: list[int], new_tokens: int
                 ) -> Generation:
        start = time.perf_counter()
        times = [start + 0.050 + 0.010 * k for k in range(new_tokens)]
        return Generation(list(range(new_tokens)), times)

    def logits(self, model: LoadedModel, ids: list[int]) -> np.ndarray:
        return np.zeros((len(ids), model.handle), np.float32)


class SegfaultEngine(FakeEngine):
    name = "segfault"

    def generate(self, model: LoadedModel, prompt_ids: list[int], new_tokens: int
                 ) -> Generation:
        ctypes.string_at(0)  # reads address 0: SIGSEGV
        raise AssertionError("unreachable")


class HangEngine(FakeEngine):
    name = "hang"

    def generate(self, model: LoadedModel, prompt_ids: list[int], new_tokens: int
                 ) -> Generation:
        time.sleep(3600)
        raise AssertionError("unreachable")


class RaiseEngine(FakeEngine):
    name = "raise"

    def load(self, ckpt: Checkpoint, artifact: Path, precision: str, device: str,
             threads: int, context: int) -> LoadedModel:
        raise RuntimeError("weights are not in the expected layout")


class UnsupportedEngine(FakeEngine):
    name = "nobf16"

    def load(self, ckpt: Checkpoint, artifact: Path, precision: str, device: str,
             threads: int, context: int) -> LoadedModel:
        raise Unsupported(f"{precision} is not supported on this CPU")


class ShortEngine(FakeEngine):
    """Returns one token fewer than asked: the harness must reject it."""

    name = "short"

    def generate(self, model: LoadedModel, prompt_ids: list[int], new_tokens: int
                 ) -> Generation:
        gen = super().generate(model, prompt_ids, new_tokens)
        return Generation(gen.ids[:-1], gen.times[:-1])


class ConvertingEngine(FakeEngine):
    """Writes an artifact of its own, counting conversions in a file beside the cache."""

    name = "converting"
    converts = True

    def prepare(self, ckpt: Checkpoint, precision: str, out_dir: Path) -> None:
        out_dir.mkdir(parents=True)
        (out_dir / "weights.bin").write_bytes(b"x" * 1000)
        counter = out_dir.parent / "conversions.txt"
        with open(counter, "a") as f:
            f.write(f"{os.getpid()}\n")


class CompilingEngine(FakeEngine):
    """A JIT engine: reports its first-use compile time apart from its rates."""

    name = "compiling"

    def compile_s(self, model: LoadedModel) -> float | None:
        return 1.5


class FakeRunnerEngine(RustRunnerEngine):
    """A runner engine whose 'binary' is tests/fake_runner.py in one of its modes; the
    test writes the binaries into $ENGINEBENCH_RUNNERS with `write_fake_runners`."""

    name = "fakerunner-ok"
    binary = "fake-runner-ok"
    install = "tests only"
    precisions: ClassVar[dict[str, PrecisionClass]] = {"f32": "fp32"}


RUNNER_MODES = ("ok", "crash", "garbage", "error", "unsupported")
RUNNER_ENGINES: dict[str, type[FakeRunnerEngine]] = {
    mode: type(f"FakeRunner_{mode}", (FakeRunnerEngine,),
               {"name": f"fakerunner-{mode}", "binary": f"fake-runner-{mode}",
                "__module__": __name__})
    for mode in RUNNER_MODES
}
for _cls in RUNNER_ENGINES.values():  # importable by name from the cell process
    globals()[_cls.__name__] = _cls


def write_fake_runners(folder: Path) -> None:
    """One executable per mode in `folder`, each running tests/fake_runner.py."""
    script = Path(__file__).with_name("fake_runner.py")
    for mode in RUNNER_MODES:
        path = folder / f"fake-runner-{mode}"
        path.write_text(f"#!/bin/sh\nexec {sys.executable} {script} {mode} \"$@\"\n")
        path.chmod(0o755)


def fake_logits(ids: list[int], vocab: int) -> np.ndarray:
    """Deterministic logits for each position, a function of the ids so far."""
    rows = [np.random.default_rng(sum(ids[: k + 1]) + k).normal(0, 3, vocab).astype(np.float32)
            for k in range(len(ids))]
    return np.stack(rows)


class LogitsEngine(FakeEngine):
    """FakeEngine whose logits are `fake_logits`: the reference in the quality tests."""

    name = "logits"

    def logits(self, model: LoadedModel, ids: list[int]) -> np.ndarray:
        return fake_logits(ids, model.handle)


PERTURBATION = 0.5  # added to logit 0 at every position by PerturbedEngine


class PerturbedEngine(LogitsEngine):
    """LogitsEngine with logit 0 raised by PERTURBATION and its generation changed from
    token 3 on."""

    name = "perturbed"

    def logits(self, model: LoadedModel, ids: list[int]) -> np.ndarray:
        out = super().logits(model, ids)
        out[:, 0] += PERTURBATION
        return out

    def generate(self, model: LoadedModel, prompt_ids: list[int], new_tokens: int
                 ) -> Generation:
        gen = super().generate(model, prompt_ids, new_tokens)
        return Generation(gen.ids[:3] + [7] * (new_tokens - 3), gen.times)


class CrashingOps(NumpyOps):
    """NumPy ops that kill their own process at softmax: the cases before it must stay."""

    name = "crashing"

    def prepare(self, case: OpCase, inputs: dict, precision: str) -> object:
        if case.op == "softmax":
            os.kill(os.getpid(), signal.SIGSEGV)
        return super().prepare(case, inputs, precision)


class WrongOps(NumpyOps):
    """NumPy ops whose rmsnorm forgets the weight: a wrong result, caught by the check."""

    name = "wrong"

    def prepare(self, case: OpCase, inputs: dict, precision: str) -> object:
        if case.op == "rmsnorm":
            inputs = {**inputs, "weight": inputs["weight"] * 0 + 1}
        return super().prepare(case, inputs, precision)


class MisreadRopeEngine(TorchEngine):
    """PyTorch fp32 made to read config.json as the old tinygrad and candle adapters did:
    the rotary base that transformers 5 keeps in `rope_parameters` is not seen, so
    rope_theta falls back to 10000. Its speed is real; the model it computes is not the
    checkpoint's, which the harness must flag."""

    name = "misread"

    def load(self, ckpt: Checkpoint, artifact: Path, precision: str, device: str,
             threads: int, context: int) -> LoadedModel:
        misread = Path(tempfile.mkdtemp(prefix="enginebench-misread-"))
        for f in ckpt.path.iterdir():
            if f.name != "config.json":
                (misread / f.name).symlink_to(f)
        config = json.loads((ckpt.path / "config.json").read_text())
        config["rope_parameters"]["rope_theta"] = 10000.0
        (misread / "config.json").write_text(json.dumps(config))
        return super().load(ckpt, misread, precision, device, threads, context)


class HangingConverterEngine(FakeEngine):
    """Its converter is a process of its own that never ends (a grandchild of the harness
    that must die with it)."""

    name = "hangconvert"
    converts = True

    def prepare(self, ckpt: Checkpoint, precision: str, out_dir: Path) -> None:
        out_dir.mkdir(parents=True)
        import subprocess

        subprocess.run(["sleep", "3600"], check=False)


class OneStampEngine(FakeEngine):
    """Stamps every token with one timestamp: a degenerate trace with no decode time."""

    name = "onestamp"

    def generate(self, model: LoadedModel, prompt_ids: list[int], new_tokens: int
                 ) -> Generation:
        now = time.perf_counter() + 0.01
        return Generation(list(range(new_tokens)), [now] * new_tokens)


class BatchEngine(FakeEngine):
    """FakeEngine with a batched path: sequence b gets ids b, b+1, ...; a step of the
    batch takes 10 ms whatever B, after a 50 ms prefill."""

    name = "fakebatch"
    no_batch = None

    def generate_batch(self, model: LoadedModel, prompts: list[list[int]], new_tokens: int
                       ) -> BatchGeneration:
        start = time.perf_counter()
        times = [start + 0.050 + 0.010 * k for k in range(new_tokens)]
        return BatchGeneration([[b + k for k in range(new_tokens)]
                                for b in range(len(prompts))], times)


class ShortSequenceBatchEngine(BatchEngine):
    """A batch whose third sequence comes back one token short."""

    name = "shortbatch"

    def generate_batch(self, model: LoadedModel, prompts: list[list[int]], new_tokens: int
                       ) -> BatchGeneration:
        out = super().generate_batch(model, prompts, new_tokens)
        if len(out.ids) > 2:
            out.ids[2] = out.ids[2][:-1]
        return out


class SwappedBatchEngine(TorchEngine):
    """PyTorch whose batched output hands each sequence the next one's ids: it computes
    the right model, for the wrong prompts."""

    name = "swapped"

    def generate_batch(self, model: LoadedModel, prompts: list[list[int]], new_tokens: int
                       ) -> BatchGeneration:
        out = super().generate_batch(model, prompts, new_tokens)
        return BatchGeneration(out.ids[1:] + out.ids[:1], out.times)
