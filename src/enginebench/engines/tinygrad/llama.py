"""A Llama forward in tinygrad tensors, loading Hugging Face LlamaForCausalLM safetensors.

RMSNorm, HF rotary (rotate_half, not interleaved; llama3 rope scaling), grouped-query
attention over a fixed-shape KV cache addressed by a `start_pos` Variable, SwiGLU. `dtype`
is the compute and storage type (float32 or float16); `int8=True` stores every projection
and the output layer as per-row symmetric int8 with a float scale (weight-only: activations
stay in `dtype`).
"""

import json
import struct
from pathlib import Path

import numpy as np
from tinygrad import Tensor, TinyJit, UOp, dtypes

from enginebench.models.config import ModelConfig, rope_inv_freq

_NP = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}
_TO_NP = {dtypes.float32: np.float32, dtypes.float16: np.float16}


def read_safetensors(files: list[Path]):
    """Yield (name, memory-mapped numpy array) for every tensor; bf16 comes as uint16 bits."""
    for f in files:
        with open(f, "rb") as fh:
            n = struct.unpack("<Q", fh.read(8))[0]
            header = json.loads(fh.read(n))
        header.pop("__metadata__", None)
        for name, t in header.items():
            start = t["data_offsets"][0]
            arr = np.memmap(f, _NP[t["dtype"]], "r", 8 + n + start, tuple(t["shape"]) or (1,))
            yield name, arr


def _float(a: np.ndarray) -> np.ndarray:
    """A stored tensor as float; bf16 bits are the high half of a float32."""
    return (a.astype(np.uint32) << 16).view(np.float32) if a.dtype == np.uint16 else a


def _tensor(a: np.ndarray, dtype, device: str) -> Tensor:
    return Tensor(np.ascontiguousarray(_float(a), dtype), device=device).realize()


class Linear:
    def __init__(self, w: np.ndarray, dtype, device: str, int8: bool):
        if int8:  # per output row: w ~= q * scale, q in [-127, 127]
            w = _float(w).astype(np.float32)
            scale = np.maximum(np.abs(w).max(axis=1, keepdims=True), 1e-12) / 127.0
            self.w = _tensor(np.round(w / scale), np.int8, device)
            self.scale = _tensor(scale.reshape(-1), _TO_NP[dtype], device)
        else:
            self.w, self.scale = _tensor(w, _TO_NP[dtype], device), None
        self.dtype = dtype

    def __call__(self, x: Tensor) -> Tensor:
        if self.scale is None:
            return x @ self.w.T
        return (x @ self.w.cast(self.dtype).T) * self.scale


def rms_norm(x: Tensor, w: Tensor, eps: float) -> Tensor:
    xf = x.float()
    return (xf * (xf.square().mean(-1, keepdim=True) + eps).rsqrt()).cast(x.dtype) * w


def rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return (x1 * cos - x2 * sin).cat(x2 * cos + x1 * sin, dim=-1)


class Llama:
    def __init__(self, c: ModelConfig, files: list[Path], max_context: int,
                 device: str = "CPU", dtype=dtypes.float32, int8: bool = False):
        self.dim, self.n_layers = c.hidden_size, c.num_layers
        self.n_heads, self.n_kv, self.head_dim = c.num_heads, c.num_kv_heads, c.head_dim
        self.eps, self.vocab = c.rms_norm_eps, c.vocab_size
        self.max_context, self.dtype, self.device = max_context, dtype, device
        w = dict(read_safetensors(files))
        lin = lambda k: Linear(w.pop(k), dtype, device, int8)  # noqa: E731
        vec = lambda k: _tensor(w.pop(k), _TO_NP[dtype], device)  # noqa: E731
        self.layers = []
        for i in range(self.n_layers):
            p = f"model.layers.{i}."
            self.layers.append({n: lin(p + k) for n, k in (
                ("q", "self_attn.q_proj.weight"), ("k", "self_attn.k_proj.weight"),
                ("v", "self_attn.v_proj.weight"), ("o", "self_attn.o_proj.weight"),
                ("gate", "mlp.gate_proj.weight"), ("up", "mlp.up_proj.weight"),
                ("down", "mlp.down_proj.weight"))})
            self.layers[-1].update(attn_norm=vec(p + "input_layernorm.weight"),
                                   ffn_norm=vec(p + "post_attention_layernorm.weight"))
        self.norm = vec("model.norm.weight")
        emb = w.pop("model.embed_tokens.weight")
        self.embed = _tensor(emb, _TO_NP[dtype], device)
        head = emb if c.tie_word_embeddings else w.pop("lm_head.weight")
        self.lm_head = Linear(head, dtype, device, int8)
        # HF rotary (with the config's rope scaling), angles in float32 as transformers
        d = self.head_dim
        inv = np.asarray(rope_inv_freq(c), np.float32)
        ang = np.arange(max_context, dtype=np.float32)[:, None] * inv[None]
        self.cos = _tensor(np.cos(ang), _TO_NP[dtype], device)
        self.sin = _tensor(np.sin(ang), _TO_NP[dtype], device)
        for layer in self.layers:  # (k|v, batch, kv heads, positions, head_dim)
            layer["cache"] = Tensor.zeros(2, 1, self.n_kv, max_context, d, dtype=dtype,
                                          device=device).contiguous().realize()
        self.step = TinyJit(self._next_token)
        self.prefills: dict[int, TinyJit] = {}

    def _attention(self, layer: dict, x: Tensor, start_pos, use_cache: bool) -> Tensor:
        B, T, _ = x.shape
        q = layer["q"](x).reshape(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        k = layer["k"](x).reshape(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        v = layer["v"](x).reshape(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        cos, sin = self.cos[start_pos:start_pos + T], self.sin[start_pos:start_pos + T]
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        if use_cache:
            cache = layer["cache"]
            cache[:, :, :, start_pos:start_pos + T].assign(Tensor.stack(k, v)).realize()
            k, v = cache[0, :, :, 0:start_pos + T], cache[1, :, :, 0:start_pos + T]
        S, rep = k.shape[2], self.n_heads // self.n_kv
        # GQA without copying K/V: the query heads of one KV head share its rows
        q = q.reshape(B, self.n_kv, rep * T, self.head_dim)
        s = (q.float() @ k.float().transpose(-1, -2)) * (1.0 / self.head_dim ** 0.5)
        if T > 1:
            mask = Tensor.full((T, S), float("-inf"), dtype=dtypes.float32,
                               device=self.device).triu(start_pos + 1)
            s = (s.reshape(B, self.n_kv, rep, T, S) + mask).reshape(B, self.n_kv, rep * T, S)
        out = s.softmax(-1).cast(self.dtype) @ v
        return layer["o"](out.reshape(B, self.n_heads, T, self.head_dim).transpose(1, 2)
                          .reshape(B, T, self.n_heads * self.head_dim))

    def forward(self, tokens: Tensor, start_pos, use_cache: bool = True,
                last: bool = True) -> Tensor:
        """Logits (float32) for the last position, or every position with `last=False`."""
        x = self.embed[tokens]
        for layer in self.layers:
            h = x + self._attention(layer, rms_norm(x, layer["attn_norm"], self.eps),
                                    start_pos, use_cache)
            f = rms_norm(h, layer["ffn_norm"], self.eps)
            x = (h + layer["down"](layer["gate"](f).silu() * layer["up"](f))).contiguous()
        if last:
            x = x[:, -1:]
        return self.lm_head(rms_norm(x, self.norm, self.eps)).float()

    def _next_token(self, tokens: Tensor, start_pos) -> Tensor:
        return self.forward(tokens, start_pos).argmax(-1).reshape(1, 1).cast(dtypes.int32) \
            .realize()

    def prefill(self, ids: list[int], capture: bool = False) -> Tensor:
        """Fill the cache with `ids` from position 0; the greedy next token, [1, 1] int32.

        With `capture`, a prompt length not seen before runs twice (TinyJit's run, then its
        capture: the same cache entries written twice), so the next call replays.
        """
        tokens = Tensor([ids], dtype=dtypes.int32, device=self.device).realize()
        if len(ids) not in self.prefills:
            self.prefills[len(ids)] = TinyJit(lambda t: self._next_token(t, 0))
            if capture:
                self.prefills[len(ids)](tokens)
        return self.prefills[len(ids)](tokens)

    def decode(self, token: Tensor, pos: int) -> Tensor:
        """Feed one token at position `pos`; the greedy next token, [1, 1] int32."""
        return self.step(token, self._pos.bind(pos))

    @property
    def _pos(self) -> UOp:
        return UOp.variable("start_pos", 1, self.max_context - 1)
