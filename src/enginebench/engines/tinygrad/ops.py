"""tinygrad: each op as tinygrad Tensor code under TinyJit, so a timed call replays the
compiled kernels as the model's decode loop does; fp32 and fp16 (inputs cast with .half()).
"""

import os
import shutil
from collections.abc import Callable

import numpy as np

from enginebench.engines.base import OpsEngine, Unsupported
from enginebench.engines.tinygrad.model import TinygradEngine
from enginebench.ops.cases import OpCase, causal_mask


class TinygradOps(OpsEngine):
    model = TinygradEngine
    modules = ("tinygrad",)
    precisions = ("fp32", "fp16")

    def __init__(self, threads: int, device: str = "cpu") -> None:
        super().__init__(threads, device)
        os.environ["NUM_CPU_THREADS"] = str(threads)  # read by tinygrad at import
        from tinygrad import Device
        from tinygrad.helpers import NUM_CPU_THREADS

        NUM_CPU_THREADS.value = threads
        self.tg_device = {"cpu": "CPU", "cuda": "CUDA"}[device]
        cc = os.environ.get("CC", "clang")
        if self.tg_device == "CPU" and shutil.which(cc) is None:
            raise Unsupported(f"tinygrad's CPU device compiles its kernels with {cc}, which "
                              "is not installed (scripts/system-deps.sh)")
        Device[self.tg_device].renderer  # noqa: B018 (opens the device)

    def build_info(self) -> dict:
        from tinygrad import Device

        return {"device": self.tg_device,
                "renderer": type(Device[self.tg_device].renderer).__name__,
                "num_cpu_threads": self.threads}

    def to_numpy(self, out: object) -> np.ndarray:
        return out.float().numpy().astype(np.float32)

    def prepare(self, case: OpCase, inputs: dict[str, np.ndarray], precision: str
                ) -> Callable[[], object]:
        from tinygrad import Tensor, TinyJit, dtypes

        dt = dtypes.float16 if precision == "fp16" else dtypes.float32
        names = list(inputs)
        tensors = [Tensor(inputs[n], device=self.tg_device).cast(dt).realize() for n in names]
        body = _op(case, Tensor)
        jitted = TinyJit(lambda *ts: body(dict(zip(names, ts, strict=True))).realize())
        return lambda: jitted(*tensors)


def _op(case: OpCase, Tensor: type) -> Callable[[dict], object]:
    if case.op in ("matmul", "matvec"):
        return lambda a: a["x"] @ a["w"].T
    if case.op == "rmsnorm":
        eps = case.params["eps"]
        return lambda a: a["x"] * (a["x"].square().mean(-1, keepdim=True) + eps).rsqrt() \
            * a["weight"]
    if case.op == "softmax":
        return lambda a: a["x"].softmax(-1)
    if case.op == "rope":
        def rope(a: dict) -> object:
            x, half = a["x"], a["x"].shape[-1] // 2
            cos, sin = a["cos"].unsqueeze(1), a["sin"].unsqueeze(1)
            x1, x2 = x[..., :half], x[..., half:]
            return (x1 * cos - x2 * sin).cat(x2 * cos + x1 * sin, dim=-1)
        return rope
    if case.op == "swiglu":
        return lambda a: a["gate"].silu() * a["up"]
    q_len, kv_len = case.inputs["q"][1], case.inputs["k"][1]
    group = case.inputs["q"][0] // case.inputs["k"][0]
    mask = Tensor(causal_mask(q_len, kv_len)) if q_len > 1 else None

    def sdpa(a: dict) -> object:
        k, v = a["k"].repeat_interleave(group, 0), a["v"].repeat_interleave(group, 0)
        scores = (a["q"] @ k.transpose(-1, -2)) * case.params["scale"]
        if mask is not None:
            scores = mask.where(scores, float("-inf"))
        return scores.softmax(-1) @ v
    return sdpa
