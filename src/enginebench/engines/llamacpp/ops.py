"""llama.cpp: each op as a one-op ggml graph, built and run through ggml's C API (ctypes).

llama-cpp-python binds llama.h only, so the few ggml functions used here are declared in
ggml.py against the ggml.h it ships (`site-packages/include/ggml.h`) and called in the libggml-base
and libggml-cpu libraries it installs. Each op is the call llama.cpp's graph makes:
`ggml_mul_mat(w, x)` with the weight F32, F16, BF16, Q8_0 or Q4_0 (converted untimed with
`ggml_quantize_chunk`, as llama-quantize does) and the activations F32; `ggml_rms_norm` then
`ggml_mul` by the weight; `ggml_soft_max`; `ggml_rope_ext`; `ggml_swiglu_split`;
`ggml_flash_attn_ext` with an F16 causal mask and K/V F16 at fp16 (llama.cpp's default KV
cache type), BF16 at bf16 (its `-ctk/-ctv bf16` cache) and F32 at fp32, which ggml's CPU
op runs; llama.cpp's own graph would cast F32 K/V to F16 before flash attention (and run
F32 attention only with flash attention off, as mul_mat, soft_max_ext, mul_mat).

ggml's rope computes its angles itself, from I32 positions 0..T-1 and `freq_base`, so the
case's cos/sin tables are not read; it runs in NEOX mode, the reference's rotate_half
(llama.cpp runs Llama GGUFs in NORM mode on q/k weights its converter permuted: the same
rotation on permuted dims). Weights sit in plain context memory, so Q4_0/Q8_0 run without
the interleaved repacking llama.cpp's model loader applies on AVX2/AVX-512/NEON CPUs.

The call is `ggml_graph_compute` on a plan made once in `prepare`, with a work buffer owned
here and one ggml threadpool kept for the adapter's life (what the model adapter attaches).
`ggml_graph_compute_with_ctx` is not used: it appends a new work buffer to the context on
every call, and once the context is full a release ggml dereferences NULL (a crash after a
few thousand timed calls). A prepared call is valid until the next `prepare` or `close`,
which free its ggml context.
"""

import ctypes
import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import ClassVar

import numpy as np

from enginebench.engines.base import OpsEngine, Unsupported
from enginebench.engines.llamacpp.ggml import InitParams, ggml_api, new_threadpool
from enginebench.engines.llamacpp.model import LlamaCppEngine
from enginebench.ops.cases import OpCase, causal_mask

# enum ggml_type (ggml.h)
F32, F16, Q4_0, Q8_0, I32, BF16 = 0, 1, 2, 8, 26, 30
# enum ggml_prec GGML_PREC_F32; GGML_ROPE_TYPE_NEOX; GGML_STATUS_SUCCESS
PREC_F32, ROPE_NEOX, STATUS_SUCCESS = 10, 2, 0
# matmul weight type by precision class; activations stay F32, as in llama.cpp
WEIGHT_TYPE = {"fp32": F32, "fp16": F16, "bf16": BF16, "int8": Q8_0, "int4": Q4_0}
# K/V type of flash attention by precision class
KV_TYPE = {"fp32": F32, "fp16": F16, "bf16": BF16}
BLOCK = {Q8_0: 32, Q4_0: 32}  # values per quantization block (ggml_blck_size)


class LlamaCppOps(OpsEngine):
    model = LlamaCppEngine
    modules = ("llama_cpp",)
    precisions = ("fp32", "fp16", "bf16", "int8", "int4")
    # llama.cpp runs norms, softmax, rope and activations in F32 whatever the weights are;
    # 16-bit applies to weights and the KV cache, 8/4-bit to weights
    ops_at: ClassVar[dict[str, tuple[str, ...]]] = {
        "fp16": ("matmul", "matvec", "sdpa"), "bf16": ("matmul", "matvec", "sdpa"),
        **OpsEngine.ops_at}

    def __init__(self, threads: int, device: str = "cpu") -> None:
        super().__init__(threads, device)
        self._ctx: int | None = None  # the prepared case's ggml context
        self._pool: int | None = None
        self._out: tuple[int, tuple[int, ...], bool] | None = None  # tensor, shape, permuted
        self._work: np.ndarray | None = None  # the prepared graph's work buffer

    def build_info(self) -> dict:
        return {"ggml_api": "ggml_graph_compute (ctypes)", "threads": self.threads}

    def prepare(self, case: OpCase, inputs: dict[str, np.ndarray], precision: str
                ) -> Callable[[], object]:
        if self.device != "cpu":
            raise Unsupported("these are ggml's CPU-backend calls; GPU backends run graphs "
                              "through ggml-backend, not bound here")
        _check(case, inputs, precision)
        g = ggml_api()
        self._free_ctx()
        if self._pool is None:
            self._pool = new_threadpool(self.threads)
        # inputs (at most 4 bytes a value) + output and one intermediate (F32) + overheads
        data = sum(4 * v.size + 64 for v in inputs.values())
        data += 2 * (4 * math.prod(case.out_shape) + 64)
        if case.op == "sdpa":
            data += 2 * case.inputs["q"][1] * case.inputs["k"][1] + 64  # F16 mask
        mem = data + 16 * g.tensor_overhead() + g.graph_overhead() + (1 << 20)
        self._ctx = g.init(InitParams(mem, None, False))
        if not self._ctx:
            raise RuntimeError(f"ggml_init of {mem} bytes failed")
        out, permuted = _build(g, self._ctx, case, inputs, precision)
        graph = g.new_graph(self._ctx)
        g.build_forward_expand(graph, out)
        plan = g.graph_plan(graph, self.threads, self._pool)
        self._work = np.empty(plan.work_size + 64, np.uint8)  # freed with the context
        plan.work_data = (self._work.ctypes.data + 63) // 64 * 64
        self._out = (out, case.out_shape, permuted)
        plan_ref, compute = ctypes.byref(plan), g.graph_compute

        def call() -> int:
            if compute(graph, plan_ref) != STATUS_SUCCESS:
                raise RuntimeError("ggml_graph_compute failed")
            return out

        return call

    def to_numpy(self, out: object) -> np.ndarray:
        if self._out is None or out != self._out[0]:
            raise ValueError("not the output of the prepared call")
        g = ggml_api()
        _, shape, permuted = self._out
        n = g.nbytes(out)
        if n != 4 * math.prod(shape):
            raise RuntimeError(f"output holds {n} bytes, expected F32 {list(shape)}")
        buf = (ctypes.c_char * n).from_address(g.get_data(out))
        arr = np.frombuffer(buf, np.float32).copy()
        if permuted:
            # flash_attn_ext writes [d, heads, tokens] (ggml order), i.e. numpy
            # [tokens, heads, d]; llama.cpp reshapes it to [heads * d, tokens] for the output
            # projection with no ggml_cont, so the transpose to [heads, tokens, d] is here
            heads, tokens, d = shape
            return arr.reshape(tokens, heads, d).transpose(1, 0, 2)
        return arr.reshape(shape)

    def _free_ctx(self) -> None:
        if self._ctx:
            ggml_api().free(self._ctx)
        self._ctx, self._out, self._work = None, None, None

    def close(self) -> None:
        self._free_ctx()
        if self._pool:
            ggml_api().threadpool_free(self._pool)
        self._pool = None


def _check(case: OpCase, inputs: dict[str, np.ndarray], precision: str) -> None:
    """Unsupported before any ggml call: ggml asserts (aborting the process) on bad shapes."""
    if precision not in WEIGHT_TYPE:
        raise Unsupported(f"no {precision} precision class here")
    if case.op in ("matmul", "matvec"):
        block = BLOCK.get(WEIGHT_TYPE[precision], 1)
        if inputs["w"].shape[1] % block:
            raise Unsupported(f"{precision} weights are quantized in blocks of {block} values "
                              f"along K; K = {inputs['w'].shape[1]}")
    elif case.op == "sdpa":
        if precision not in KV_TYPE:
            raise Unsupported(f"{precision} quantizes weights; llama.cpp's {precision} models "
                              "keep the KV cache at F16 (the fp16 case), and its q8_0/q4_0 "
                              "KV cache (-ctk/-ctv) is another setting, not run here")
        if case.inputs["q"][0] % case.inputs["k"][0]:
            raise Unsupported("query heads are not a multiple of kv heads")
    elif precision != "fp32":
        raise Unsupported(f"llama.cpp runs {case.op} in F32 whatever the weights' type; "
                          f"ggml's op has no {precision} path llama.cpp uses")


def _build(g: SimpleNamespace, ctx: int, case: OpCase, a: dict[str, np.ndarray],
           precision: str) -> tuple[int, bool]:
    """The op's output tensor on new input tensors holding `a`, and whether its layout is
    flash_attn_ext's permuted one."""
    if case.op in ("matmul", "matvec"):
        w = _tensor(g, ctx, a["w"], WEIGHT_TYPE[precision])
        return g.mul_mat(ctx, w, _tensor(g, ctx, a["x"], F32)), False
    if case.op == "rmsnorm":
        x = g.rms_norm(ctx, _tensor(g, ctx, a["x"], F32), case.params["eps"])
        return g.mul(ctx, x, _tensor(g, ctx, a["weight"], F32)), False
    if case.op == "softmax":
        return g.soft_max(ctx, _tensor(g, ctx, a["x"], F32)), False
    if case.op == "rope":
        tokens, _, d = a["x"].shape
        pos = _tensor(g, ctx, np.arange(tokens, dtype=np.int32), I32)
        # n_ctx_orig only feeds YaRN's correction dims, off with ext_factor 0; llama.cpp's
        # defaults: freq_scale 1, ext_factor 0, attn_factor 1, beta_fast 32, beta_slow 1
        return g.rope_ext(ctx, _tensor(g, ctx, a["x"], F32), pos, None, d, ROPE_NEOX, 0,
                          case.params["theta"], 1.0, 0.0, 1.0, 32.0, 1.0), False
    if case.op == "swiglu":
        gate, up = _tensor(g, ctx, a["gate"], F32), _tensor(g, ctx, a["up"], F32)
        return g.swiglu_split(ctx, gate, up), False
    # sdpa: q [Hq, Tq, d], k/v [Hkv, Tk, d] are ggml's [d, T, H], what flash_attn_ext takes
    kv = KV_TYPE[precision]
    q_len, kv_len = a["q"].shape[1], a["k"].shape[1]
    mask = np.where(causal_mask(q_len, kv_len), 0.0, -np.inf).astype(np.float32)
    out = g.flash_attn_ext(ctx, _tensor(g, ctx, a["q"], F32), _tensor(g, ctx, a["k"], kv),
                           _tensor(g, ctx, a["v"], kv), _tensor(g, ctx, mask, F16),
                           case.params["scale"], 0.0, 0.0)
    g.prec_set_acc(out, PREC_F32)  # as llama.cpp's build_attn_mha sets it
    return out, True


def _tensor(g: SimpleNamespace, ctx: int, value: np.ndarray, typ: int) -> int:
    """A new tensor of ggml type `typ` holding `value` (C order: ne0 is its last dim)."""
    ne = value.shape[::-1]
    new = {1: g.new_tensor_1d, 2: g.new_tensor_2d, 3: g.new_tensor_3d}[len(ne)]
    t = new(ctx, typ, *ne)
    if not t:
        raise RuntimeError("ggml_new_tensor failed")
    nbytes, dst = g.nbytes(t), g.get_data(t)
    if typ in (F32, I32):
        src = np.ascontiguousarray(value, np.float32 if typ == F32 else np.int32)
        if src.nbytes != nbytes:
            raise RuntimeError(f"tensor of {nbytes} bytes for {src.nbytes} bytes of data")
        ctypes.memmove(dst, src.ctypes.data, nbytes)
        return t
    # F16, BF16, Q8_0, Q4_0: ggml's own conversion of rows of ne0 values
    src = np.ascontiguousarray(value, np.float32)
    rows = src.size // ne[0]
    if g.row_size(typ, ne[0]) * rows != nbytes:
        raise RuntimeError(f"tensor of {nbytes} bytes for {rows} rows of type {typ}")
    written = g.quantize_chunk(typ, src.ctypes.data, dst, 0, rows, ne[0], None)
    if written != nbytes:
        raise RuntimeError(f"ggml_quantize_chunk wrote {written} of {nbytes} bytes")
    return t
