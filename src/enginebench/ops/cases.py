"""The operator cases at a model's shapes: their inputs, FLOPs, bytes and float64 reference.

Every engine runs the same cases on the same inputs (seeded per case). Layouts are those a
Llama forward pass has: `matmul`/`matvec` multiply activations `x [M, K]` by a weight
stored as the checkpoint stores it, `w [N, K]` (out x in), giving `x @ w.T`; attention
tensors are `[heads, tokens, head_dim]`, with grouped-query attention mapping query head
`h` to key/value head `h // (heads / kv_heads)`.
"""

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from enginebench.models.config import ModelConfig

OPS = ("matmul", "matvec", "rmsnorm", "softmax", "rope", "swiglu", "sdpa")
# bytes per value of activations and of weights, by precision class
ITEMSIZE = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 4.0, "int4": 4.0}
WEIGHT_ITEMSIZE = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
# largest error allowed, as max |out - ref| / max |ref|, by precision class
TOLERANCE = {"fp32": 1e-4, "fp16": 1e-2, "bf16": 5e-2, "int8": 5e-2, "int4": 2.5e-1}


@dataclass(frozen=True)
class OpCase:
    """One operator at one shape."""

    name: str  # e.g. "matmul.mlp_up"
    op: str  # one of OPS
    inputs: dict[str, tuple[int, ...]]
    out_shape: tuple[int, ...]
    flops: float
    params: dict = field(default_factory=dict)
    # inputs that are weights (stored at the weight precision; matmul and matvec only)
    weights: tuple[str, ...] = ()

    def bytes(self, precision: str) -> float:
        """Least bytes the op moves: every input read once and the output written once."""
        act, wt = ITEMSIZE[precision], WEIGHT_ITEMSIZE[precision]
        moved = sum(math.prod(s) * (wt if n in self.weights else act)
                    for n, s in self.inputs.items())
        return moved + math.prod(self.out_shape) * act

    def shape_text(self) -> str:
        return " ".join(f"{n}{list(s)}" for n, s in self.inputs.items())

    def make_inputs(self) -> dict[str, np.ndarray]:
        """The case's float32 inputs, the same on every call and every machine."""
        seed = int.from_bytes(hashlib.sha256(self.name.encode()).digest()[:4], "little")
        rng = np.random.default_rng(seed)
        out = {}
        for n, shape in self.inputs.items():
            if n in ("cos", "sin"):
                continue
            scale = 1 / math.sqrt(shape[-1]) if n in self.weights else 1.0
            out[n] = (rng.standard_normal(shape) * scale).astype(np.float32)
        if self.op == "rmsnorm":
            out["weight"] = (1 + 0.1 * rng.standard_normal(self.inputs["weight"])
                             ).astype(np.float32)
        if self.op == "rope":
            out["cos"], out["sin"] = rope_tables(self.inputs["cos"][0],
                                                 2 * self.inputs["cos"][1],
                                                 self.params["theta"])
        return out


def rope_tables(tokens: int, head_dim: int, theta: float) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin `[tokens, head_dim / 2]` of positions 0..tokens-1 (Llama's frequencies)."""
    inv_freq = theta ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    angles = np.outer(np.arange(tokens, dtype=np.float64), inv_freq)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def model_cases(config: ModelConfig, prompt_tokens: int, context: int) -> list[OpCase]:
    """The cases of one Llama layer at a model config's shapes: prefill of `prompt_tokens`
    tokens, and one decode step against a KV cache of `context` tokens. The rope case is
    the plain rotary at the config's theta (no rope scaling)."""
    h, i = config.hidden_size, config.intermediate_size
    heads, kv, d = config.num_heads, config.num_kv_heads, config.head_dim
    p = prompt_tokens
    weights = {"attn": (h, heads * d), "mlp_up": (i, h), "mlp_down": (h, i)}
    cases = []
    for op, m in (("matmul", p), ("matvec", 1)):
        for what, (n, k) in weights.items():
            cases.append(OpCase(f"{op}.{what}", op, {"x": (m, k), "w": (n, k)}, (m, n),
                                2.0 * m * k * n, weights=("w",)))
    cases += [
        OpCase("rmsnorm", "rmsnorm", {"x": (p, h), "weight": (h,)}, (p, h), 4.0 * p * h,
               {"eps": config.rms_norm_eps}),
        OpCase("softmax", "softmax", {"x": (heads, p, p)}, (heads, p, p),
               5.0 * heads * p * p),
        OpCase("rope", "rope", {"x": (p, heads, d), "cos": (p, d // 2), "sin": (p, d // 2)},
               (p, heads, d), 3.0 * p * heads * d,
               {"theta": config.rope_theta}),
        OpCase("swiglu", "swiglu", {"gate": (p, i), "up": (p, i)}, (p, i), 5.0 * p * i),
        sdpa_case("sdpa.prefill", heads, kv, d, p, p),
        sdpa_case("sdpa.decode", heads, kv, d, 1, context),
    ]
    return cases


def sdpa_case(name: str, heads: int, kv: int, d: int, q_len: int, kv_len: int) -> OpCase:
    """Causal attention of `q_len` new tokens over `kv_len` cached ones (the last `q_len`
    of which are the new tokens)."""
    pairs = q_len * (kv_len - q_len) + q_len * (q_len + 1) / 2  # unmasked (query, key)
    return OpCase(name, "sdpa", {"q": (heads, q_len, d), "k": (kv, kv_len, d),
                                 "v": (kv, kv_len, d)}, (heads, q_len, d),
                  4.0 * heads * pairs * d, {"scale": 1 / math.sqrt(d)})


def peak_case(n: int) -> OpCase:
    """The square matmul whose best rate across engines is the machine's FLOP/s ceiling."""
    return OpCase(f"matmul.peak{n}", "matmul", {"x": (n, n), "w": (n, n)}, (n, n),
                  2.0 * n ** 3, weights=("w",))


def causal_mask(q_len: int, kv_len: int) -> np.ndarray:
    """True where query row r may attend key column c: c <= kv_len - q_len + r."""
    return np.arange(kv_len)[None, :] <= (kv_len - q_len + np.arange(q_len))[:, None]


def reference(case: OpCase, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """The op in NumPy float64: what every engine's output is compared with."""
    a = {n: v.astype(np.float64) for n, v in inputs.items()}
    return REFERENCE[case.op](a, case.params)


def _rmsnorm(a: dict, params: dict) -> np.ndarray:
    x = a["x"]
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + params["eps"]) * a["weight"]


def _softmax(a: dict, params: dict) -> np.ndarray:
    e = np.exp(a["x"] - a["x"].max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def rotate_half(x: Any, cos: Any, sin: Any, concat: Callable[[list], Any]) -> Any:
    """Rotate-half RoPE of x [tokens, heads, d] with [tokens, d/2] tables, in any array
    library that slices and multiplies as NumPy does; `concat` joins on the last axis."""
    half = x.shape[-1] // 2
    cos, sin = cos[:, None, :], sin[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return concat([x1 * cos - x2 * sin, x2 * cos + x1 * sin])


def _rope(a: dict, params: dict) -> np.ndarray:
    return rotate_half(a["x"], a["cos"], a["sin"], lambda p: np.concatenate(p, -1))


def _silu(x: np.ndarray) -> np.ndarray:
    return x / (1 + np.exp(-x))


def _sdpa(a: dict, params: dict) -> np.ndarray:
    q, k, v = a["q"], a["k"], a["v"]
    group = q.shape[0] // k.shape[0]
    k, v = np.repeat(k, group, axis=0), np.repeat(v, group, axis=0)
    scores = q @ k.transpose(0, 2, 1) * params["scale"]
    scores = np.where(causal_mask(q.shape[1], k.shape[1]), scores, -np.inf)
    return _softmax({"x": scores}, {}) @ v


REFERENCE = {
    "matmul": lambda a, p: a["x"] @ a["w"].T,
    "matvec": lambda a, p: a["x"] @ a["w"].T,
    "rmsnorm": _rmsnorm,
    "softmax": _softmax,
    "rope": _rope,
    "swiglu": lambda a, p: _silu(a["gate"]) * a["up"],
    "sdpa": _sdpa,
}


def rel_error(out: np.ndarray, ref: np.ndarray) -> float:
    """max |out - ref| / max |ref|: the error measure the tolerances are in."""
    if out.shape != ref.shape:
        raise ValueError(f"output shape {list(out.shape)}, expected {list(ref.shape)}")
    scale = float(np.abs(ref).max()) or 1.0
    return float(np.abs(out.astype(np.float64) - ref).max()) / scale
