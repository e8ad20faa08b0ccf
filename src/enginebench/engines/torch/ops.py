"""PyTorch: each op through its torch.nn.functional call, in eager mode under inference_mode.

int8 and int4 run matmul/matvec only, through ATen's weight-only kernels that torchao uses on
CPU (`_weight_int8pack_mm`: per-row int8 weights; `_weight_int4pack_mm_for_cpu`: 4-bit
weights in groups of 32), with activations in the input dtype.
"""

from collections.abc import Callable

import numpy as np

from enginebench.engines.base import OpsEngine, Unsupported
from enginebench.engines.torch.model import TorchEngine
from enginebench.ops.cases import OpCase, causal_mask, rotate_half

INT4_GROUP = 32


class TorchOps(OpsEngine):
    model = TorchEngine
    modules = ("torch",)
    precisions = ("fp32", "fp16", "bf16", "int8", "int4")

    def __init__(self, threads: int, device: str = "cpu") -> None:
        super().__init__(threads, device)
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        self.dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16,
                       "int8": torch.float32, "int4": torch.bfloat16}

    def build_info(self) -> dict:
        t = self.torch
        return {"threads": t.get_num_threads(), "mkldnn": t.backends.mkldnn.is_available(),
                "cpu_capability": t.backends.cpu.get_cpu_capability()}

    def to_numpy(self, out: object) -> np.ndarray:
        return out.float().numpy()

    def prepare(self, case: OpCase, inputs: dict[str, np.ndarray], precision: str
                ) -> Callable[[], object]:
        torch = self.torch
        dt = self.dtypes[precision]
        a = {n: torch.from_numpy(v).to(dt) for n, v in inputs.items()}
        if precision in ("int8", "int4"):
            if case.op not in ("matmul", "matvec"):
                raise Unsupported(f"{precision} is weight-only quantization of matmuls in "
                                  f"PyTorch; {case.op} has no {precision} kernel")
            return self._quantized_linear(a["x"], torch.from_numpy(inputs["w"]), precision)
        fn = self._op(case, a)
        return lambda: _inference(torch, fn)

    def _op(self, case: OpCase, a: dict) -> Callable[[], object]:
        torch, F = self.torch, self.torch.nn.functional
        if case.op in ("matmul", "matvec"):
            return lambda: F.linear(a["x"], a["w"])
        if case.op == "rmsnorm":
            shape = a["weight"].shape
            return lambda: F.rms_norm(a["x"], shape, a["weight"], case.params["eps"])
        if case.op == "softmax":
            return lambda: torch.softmax(a["x"], -1)
        if case.op == "rope":
            return lambda: rotate_half(a["x"], a["cos"], a["sin"], lambda p: torch.cat(p, -1))
        if case.op == "swiglu":
            return lambda: F.silu(a["gate"]) * a["up"]
        q, k, v = a["q"][None], a["k"][None], a["v"][None]
        q_len, kv_len = q.shape[2], k.shape[2]
        mask = None if q_len == 1 else torch.from_numpy(causal_mask(q_len, kv_len))
        scale = case.params["scale"]
        return lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale,
                                                      enable_gqa=True)[0]

    def _quantized_linear(self, x: object, w: object, precision: str) -> Callable[[], object]:
        torch = self.torch
        aten = torch.ops.aten
        if precision == "int8":
            scales = w.abs().amax(1).clamp(min=1e-12) / 127
            q = (w / scales[:, None]).round().clamp(-127, 127).to(torch.int8)
            return lambda: _inference(torch, lambda: aten._weight_int8pack_mm(x, q, scales))
        n, k = w.shape
        g = w.reshape(n, k // INT4_GROUP, INT4_GROUP)
        lo, hi = g.amin(-1), g.amax(-1)
        scale = ((hi - lo) / 15).clamp(min=1e-12)
        ints = ((g - lo[..., None]) / scale[..., None]).round().clamp(0, 15).to(torch.int32)
        # the kernel's zero point is the value of code 8: w = (code - 8) * scale + zero
        zero = lo + 8 * scale
        scales_zeros = torch.stack([scale, zero], -1).transpose(0, 1).contiguous()
        packed = aten._convert_weight_to_int4pack_for_cpu(ints.reshape(n, k), 1)
        sz = scales_zeros.to(torch.bfloat16)
        return lambda: _inference(torch, lambda: aten._weight_int4pack_mm_for_cpu(
            x, packed, INT4_GROUP, sz))


def _inference(torch: object, fn: Callable[[], object]) -> object:
    with torch.inference_mode():
        return fn()
