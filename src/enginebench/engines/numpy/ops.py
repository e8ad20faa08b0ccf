"""NumPy: the baseline, float32 through NumPy's BLAS and ufuncs."""

from collections.abc import Callable

import numpy as np

from enginebench.engines.base import OpsEngine
from enginebench.ops.cases import OpCase, rotate_half


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    e /= e.sum(-1, keepdims=True)
    return e


def _sdpa(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None,
          scale: float) -> np.ndarray:
    kv, _, d = k.shape
    qg = q.reshape(kv, -1, q.shape[1], d)  # [kv, group, q_len, d]
    scores = qg @ k[:, None].transpose(0, 1, 3, 2) * np.float32(scale)
    if mask is not None:
        scores = np.where(mask, scores, np.float32(-np.inf))
    return (_softmax(scores) @ v[:, None]).reshape(q.shape)


class NumpyOps(OpsEngine):
    name = "numpy"
    modules = ("numpy",)
    packages = ("numpy",)
    install = "pip install numpy"

    @classmethod
    def version(cls) -> str | None:
        return np.__version__

    def build_info(self) -> dict:
        blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        return {"blas": blas.get("name"), "blas_version": blas.get("version")}

    def prepare(self, case: OpCase, inputs: dict[str, np.ndarray], precision: str
                ) -> Callable[[], object]:
        a = inputs
        if case.op in ("matmul", "matvec"):
            wt = a["w"].T
            return lambda: a["x"] @ wt
        if case.op == "rmsnorm":
            eps = np.float32(case.params["eps"])
            return lambda: a["x"] / np.sqrt((a["x"] * a["x"]).mean(-1, keepdims=True)
                                            + eps) * a["weight"]
        if case.op == "softmax":
            return lambda: _softmax(a["x"])
        if case.op == "rope":
            return lambda: rotate_half(a["x"], a["cos"], a["sin"],
                                       lambda p: np.concatenate(p, -1))
        if case.op == "swiglu":
            return lambda: a["gate"] / (1 + np.exp(-a["gate"])) * a["up"]
        from enginebench.ops.cases import causal_mask

        q_len, kv_len = a["q"].shape[1], a["k"].shape[1]
        mask = causal_mask(q_len, kv_len) if q_len > 1 else None
        return lambda: _sdpa(a["q"], a["k"], a["v"], mask, case.params["scale"])
