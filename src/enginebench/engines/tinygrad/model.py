"""tinygrad, running enginebench's own Llama forward (`tinygrad_llama.py`) on the checkpoint.

The decode loop is one `TinyJit` replay per token: the greedy id is computed in the graph and
fed straight back as the next step's input, with the position a bound `start_pos` Variable
over a fixed-shape KV cache. The prefill is a `TinyJit` per prompt length.

tinygrad compiles its kernels on first use: the first `generate` call's time up to its JIT
captures is `compile_s`, also in the notes with whether tinygrad's on-disk compiler cache was
cold or warm.
"""

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from enginebench.engines.base import (
    Engine,
    Generation,
    LoadedModel,
    MemoryModel,
    PrecisionClass,
    Unsupported,
)
from enginebench.models.checkpoint import Checkpoint, weight_files

_DEVICES = {"cpu": "CPU", "cuda": "CUDA"}
# tinygrad settings worth recording (DEV: device and renderer, e.g. CPU:X86)
_ENV = ("DEV", "BEAM", "JIT", "CC", "CACHELEVEL", "CACHEDB", "CCACHE", "NUM_CPU_THREADS",
        "DEFAULT_FLOAT", "HALF")
_NOTES = {
    "fp16": "fp16 weights, activations and KV cache; norms, attention scores and softmax "
            "in fp32",
    "int8": "per-row symmetric int8 weights (every projection and the output layer), "
            "dequantized inside the matmul; fp32 activations, embedding and KV cache",
}


@dataclass
class _Model:
    net: object  # tinygrad_llama.Llama
    device: str  # tinygrad device name
    cached_at_load: int | None  # kernels in tinygrad's disk cache when the load began
    compile_s: float | None = None  # set by the first generate call (compile, JIT capture)


def _compile_cache_rows() -> int | None:
    """Compiled kernels in tinygrad's on-disk cache (every device); None when it is off."""
    from tinygrad.helpers import CACHELEVEL, CCACHE, db_connection

    if CACHELEVEL.value < 1 or not CCACHE.value:
        return None
    db = db_connection()
    tables = db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE "
                        "'compile%'").fetchall()
    return sum(db.execute(f"SELECT COUNT(*) FROM '{t}'").fetchone()[0] for (t,) in tables)


def _compile_note(seconds: float, at_load: int | None, before: int | None) -> str:
    what = "first generate call: prefill and 2 decode steps, each TinyJit's first run " \
           "(compiles) and capture"
    if at_load is None or before is None:
        return f"compile_s={seconds:.2f} (cold: tinygrad's disk cache is off; {what})"
    new = (_compile_cache_rows() or 0) - before
    state = "cold" if at_load == 0 else "warm" if new == 0 else "partly warm"
    return (f"compile_s={seconds:.2f} ({state} disk cache: {new} kernels compiled by the C "
            f"compiler, {at_load} in the cache at load; {what})")


class TinygradEngine(Engine):
    name = "tinygrad"
    modules = ("tinygrad",)
    packages = ("tinygrad",)
    install = "pip install 'enginebench[tinygrad]' (and clang: scripts/system-deps.sh)"
    precisions: ClassVar[dict[str, PrecisionClass]] = {
        "fp32": "fp32", "fp16": "fp16", "int8": "int8"}
    devices = ("cpu", "cuda")  # cuda: tinygrad's CUDA device (not tested on a GPU)
    no_batch = ("runs the adapter's own Llama (engines/tinygrad/llama.py), whose KV cache "
                "and captured graphs are for one sequence")
    honours = frozenset({"rope_type:llama3", "head_dim", "tie_word_embeddings"})
    # llama.py casts each mapped tensor in NumPy, then tinygrad copies it: a tensor's
    # transients on top; int8 keeps the embedding fp32; fixed-shape KV cache, fp32 but at fp16
    memory = MemoryModel(weights={"fp32": 4.5, "fp16": 2.5, "int8": 1.5},
                         kv={"fp32": 4.0, "int8": 4.0})

    def build_info(self) -> dict:
        from tinygrad import Device
        from tinygrad.helpers import CACHEDB, CACHELEVEL, CCACHE, DEFAULT_FLOAT, NUM_CPU_THREADS

        dev = Device[getattr(self, "_device", None) or Device.DEFAULT]
        return {
            "packages": self.package_versions(),
            "device": dev.device,
            "renderer": type(dev.renderer).__name__,
            "target": repr(dev.renderer.target),
            "compiler": type(dev.renderer.compiler).__name__,
            "cc": shutil.which(os.environ.get("CC", "clang"))
            if type(dev.renderer).__name__ == "ClangRenderer" else None,
            "num_cpu_threads": NUM_CPU_THREADS.value,
            "default_float": DEFAULT_FLOAT.value,
            "cachelevel": CACHELEVEL.value,
            "ccache": CCACHE.value,
            "cachedb": CACHEDB,
            "env": getattr(self, "_env", None),  # as the cell set it, before tinygrad did
        }

    def load(self, ckpt: Checkpoint, artifact: Path, precision: str, device: str,
             threads: int, context: int) -> LoadedModel:
        self._env = {k: os.environ[k] for k in _ENV if k in os.environ}
        # read by tinygrad at import; the ContextVar below covers an earlier import
        os.environ["NUM_CPU_THREADS"] = str(threads)
        from tinygrad import Device, dtypes
        from tinygrad.helpers import NUM_CPU_THREADS

        from enginebench.engines.tinygrad.llama import Llama

        NUM_CPU_THREADS.value = threads
        cached = _compile_cache_rows()
        tg_device = _DEVICES[device]
        cc = os.environ.get("CC", "clang")
        if tg_device == "CPU" and shutil.which(cc) is None:  # even with DEV=CPU:X86
            raise Unsupported(f"tinygrad's CPU device compiles its runtime and kernels with "
                              f"{cc}, which is not installed (scripts/system-deps.sh)")
        try:
            Device[tg_device].renderer  # noqa: B018 (opens the device)
        except Exception as e:
            raise Unsupported(f"tinygrad cannot open its {tg_device} device: {e}") from e
        self._device = tg_device
        net = Llama(ckpt.config, weight_files(artifact), context, device=tg_device,
                    dtype=dtypes.float16 if precision == "fp16" else dtypes.float32,
                    int8=precision == "int8")
        notes = [_NOTES[precision]] if precision in _NOTES else []
        return LoadedModel(_Model(net, tg_device, cached), notes)

    def generate(self, model: LoadedModel, prompt_ids: list[int], new_tokens: int
                 ) -> Generation:
        m: _Model = model.handle
        net = m.net
        if len(prompt_ids) + new_tokens > net.max_context:
            raise ValueError(f"{len(prompt_ids)} + {new_tokens} tokens exceed the KV cache "
                             f"of {net.max_context} sized at load")
        first = m.compile_s is None
        if first:
            rows, start = _compile_cache_rows(), time.perf_counter()
        ids: list[int] = []
        times: list[float] = []
        # a new prompt length: run once (compile), then capture; both fill the same cache
        token = net.prefill(prompt_ids, capture=True)
        for step in range(new_tokens):
            ids.append(int(token.item()))  # copies the id out: it exists now
            times.append(time.perf_counter())
            if step + 1 < new_tokens:
                token = net.decode(token, len(prompt_ids) + step)
            if first and (step == 1 or step + 1 == new_tokens):
                # prefill run + capture, decode run (compiles) + capture: replays from here
                first, m.compile_s = False, time.perf_counter() - start
                model.notes.append(_compile_note(m.compile_s, m.cached_at_load, rows))
        return Generation(ids, times)

    def compile_s(self, model: LoadedModel) -> float | None:
        return model.handle.compile_s

    def logits(self, model: LoadedModel, ids: list[int]) -> np.ndarray:
        from tinygrad import Tensor, dtypes

        net = model.handle.net
        tokens = Tensor([ids], dtype=dtypes.int32, device=model.handle.device)
        return net.forward(tokens, 0, use_cache=False, last=False).numpy()[0]
