"""MLX: each op through its mlx.core / mlx.core.fast call, evaluated inside the timed call
(MLX is lazy: an op that is not evaluated has not run).

int8 and int4 run matmul/matvec only: the weight quantized with `mx.quantize` (affine,
group 64, mlx-lm's default) and multiplied with `mx.quantized_matmul`, as mlx-lm's
quantized Linear does.
"""

from collections.abc import Callable

import numpy as np

from enginebench.engines.base import OpsEngine, Unsupported
from enginebench.engines.mlx.model import (
    BITS,
    GROUP_SIZE,
    MlxEngine,
    blas_library,
    select_device,
)
from enginebench.ops.cases import OpCase, causal_mask, rotate_half


class MlxOps(OpsEngine):
    model = MlxEngine
    modules = ("mlx.core",)
    precisions = ("fp32", "fp16", "bf16", "int8", "int4")

    def __init__(self, threads: int, device: str = "cpu") -> None:
        super().__init__(threads, device)
        import mlx.core as mx

        self.mx = mx
        self.device_name = select_device(device)
        self.dtypes = {"fp32": mx.float32, "fp16": mx.float16, "bf16": mx.bfloat16,
                       "int8": mx.float32, "int4": mx.float32}

    def build_info(self) -> dict:
        return {"device": self.device_name, "blas": blas_library(),
                "group_size": GROUP_SIZE, "threads": "not settable"}

    def to_numpy(self, out: object) -> np.ndarray:
        return np.array(out.astype(self.mx.float32))

    def prepare(self, case: OpCase, inputs: dict[str, np.ndarray], precision: str
                ) -> Callable[[], object]:
        mx = self.mx
        dt = self.dtypes[precision]
        a = {n: mx.array(v).astype(dt) for n, v in inputs.items()}
        mx.eval(list(a.values()))
        if precision in BITS:
            if case.op not in ("matmul", "matvec"):
                raise Unsupported(f"{precision} is weight quantization of matmuls in MLX; "
                                  f"{case.op} has no {precision} kernel")
            bits = BITS[precision]
            w, scales, biases = mx.quantize(a["w"], group_size=GROUP_SIZE, bits=bits)
            mx.eval(w, scales, biases)
            x = a["x"]

            def fn() -> object:
                return mx.quantized_matmul(x, w, scales, biases, transpose=True,
                                           group_size=GROUP_SIZE, bits=bits)
        else:
            fn = self._op(case, a)

        def evaluated() -> object:
            out = fn()
            mx.eval(out)
            return out
        return evaluated

    def _op(self, case: OpCase, a: dict) -> Callable[[], object]:
        mx = self.mx
        if case.op in ("matmul", "matvec"):
            return lambda: a["x"] @ a["w"].T
        if case.op == "rmsnorm":
            return lambda: mx.fast.rms_norm(a["x"], a["weight"], case.params["eps"])
        if case.op == "softmax":
            return lambda: mx.softmax(a["x"], axis=-1, precise=True)
        if case.op == "rope":
            return lambda: rotate_half(a["x"], a["cos"], a["sin"],
                                       lambda p: mx.concatenate(p, -1))
        if case.op == "swiglu":
            return lambda: a["gate"] * mx.sigmoid(a["gate"]) * a["up"]
        q, k, v = a["q"][None], a["k"][None], a["v"][None]
        q_len, kv_len = q.shape[2], k.shape[2]
        mask = None if q_len == 1 else mx.array(causal_mask(q_len, kv_len))
        scale = case.params["scale"]
        return lambda: mx.fast.scaled_dot_product_attention(q, k, v, scale=scale,
                                                            mask=mask)[0]
