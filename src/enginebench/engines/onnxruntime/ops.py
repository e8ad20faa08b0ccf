"""ONNX Runtime: each op as a one-node ONNX graph (weights as initializers, as an exported
model has them) in a CPU InferenceSession; the call is `session.run` on NumPy inputs.

The nodes are the ones ONNX Runtime's own Llama exports use: MatMul (fp32, fp16),
DynamicQuantizeMatMul (int8, com.microsoft) and MatMulNBits (int4, com.microsoft);
SimplifiedLayerNormalization; Softmax; RotaryEmbedding and GroupQueryAttention
(com.microsoft). ONNX has no SiLU, so swiglu is the 3-node Sigmoid-Mul-Mul graph.
"""

from collections.abc import Callable

import numpy as np

from enginebench.engines.base import OpsEngine, Unsupported
from enginebench.engines.onnxruntime.model import OnnxRuntimeEngine, int8_reduce_range
from enginebench.ops.cases import OpCase

OPSET = 21
MS = "com.microsoft"
INT4_BLOCK = 32


class OnnxRuntimeOps(OpsEngine):
    model = OnnxRuntimeEngine
    modules = ("onnxruntime", "onnx")
    precisions = ("fp32", "fp16", "int8", "int4")

    def build_info(self) -> dict:
        import onnxruntime as ort

        return {"providers": ort.get_available_providers(), "opset": OPSET,
                "int8_reduce_range": int8_reduce_range()}

    def prepare(self, case: OpCase, inputs: dict[str, np.ndarray], precision: str
                ) -> Callable[[], object]:
        import onnxruntime as ort

        if precision in ("int8", "int4") and case.op not in ("matmul", "matvec"):
            raise Unsupported(f"ONNX Runtime quantizes matmul weights only; {case.op} has "
                              f"no {precision} node")
        dtype = np.float16 if precision == "fp16" else np.float32
        model, feeds = _graph(case, {n: v.astype(dtype) for n, v in inputs.items()},
                              precision)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(model.SerializeToString(), opts,
                                           providers=["CPUExecutionProvider"])
        except Exception as e:  # ORT says which node has no kernel for the type
            raise Unsupported(f"ONNX Runtime has no CPU kernel for this graph: "
                              f"{str(e).splitlines()[0][:300]}") from e
        # rope and sdpa nodes are tokens-major ([1, tokens, heads * d]); undone untimed
        self._heads_major = case.op == "sdpa"
        self._out_shape = case.out_shape
        return lambda: session.run(["out"], feeds)[0]

    def to_numpy(self, out: object) -> np.ndarray:
        out = np.asarray(out, dtype=np.float32)
        if self._heads_major:
            heads, tokens, d = self._out_shape
            return out.reshape(tokens, heads, d).transpose(1, 0, 2)
        return out.reshape(self._out_shape)


def _graph(case: OpCase, a: dict[str, np.ndarray], precision: str) -> tuple[object, dict]:
    """The ONNX model of the case and the feeds of one call."""
    from onnx import TensorProto, helper, numpy_helper

    elem = TensorProto.FLOAT16 if a[next(iter(a))].dtype == np.float16 else TensorProto.FLOAT
    feeds: dict[str, np.ndarray] = {}
    inits: list = []
    nodes: list = []

    def init(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    def feed(name: str, value: np.ndarray) -> str:
        feeds[name] = np.ascontiguousarray(value)
        return name

    out_shape = list(case.out_shape)
    if case.op in ("matmul", "matvec"):
        x, w = a["x"], a["w"]
        feed("x", x)
        if precision == "int8":
            # the model adapter's setting for this CPU: 7-bit weights where u8s8 saturates
            qmax = 64 if int8_reduce_range() else 127
            scale = np.abs(w).max() / qmax
            q = np.clip(np.round(w.T / scale), -qmax, qmax).astype(np.int8)
            nodes.append(helper.make_node(
                "DynamicQuantizeMatMul", ["x", init("wq", q), init("ws", np.float32(scale)),
                                          init("wz", np.int8(0))], ["out"], domain=MS))
        elif precision == "int4":
            nodes.append(_matmul_nbits(w, init))
        else:
            nodes.append(helper.make_node("MatMul", ["x", init("wt", w.T.copy())], ["out"]))
    elif case.op == "rmsnorm":
        nodes.append(helper.make_node("SimplifiedLayerNormalization",
                                      [feed("x", a["x"]), init("weight", a["weight"])],
                                      ["out"], axis=-1, epsilon=case.params["eps"]))
    elif case.op == "softmax":
        nodes.append(helper.make_node("Softmax", [feed("x", a["x"])], ["out"], axis=-1))
    elif case.op == "rope":
        t, heads, d = a["x"].shape
        nodes.append(helper.make_node(
            "RotaryEmbedding", [feed("x", a["x"].reshape(1, t, heads * d)),
                                init("pos", np.arange(t, dtype=np.int64)[None]),
                                init("cos", a["cos"]), init("sin", a["sin"])],
            ["out"], domain=MS, interleaved=0, num_heads=heads))
        out_shape = [1, t, heads * d]
    elif case.op == "swiglu":
        nodes += [helper.make_node("Sigmoid", [feed("gate", a["gate"])], ["sig"]),
                  helper.make_node("Mul", ["gate", "sig"], ["silu"]),
                  helper.make_node("Mul", ["silu", feed("up", a["up"])], ["out"])]
    else:
        nodes.append(_gqa(case, a, feed, init))
        out_shape = [1, case.out_shape[1], case.out_shape[0] * case.out_shape[2]]
    graph = helper.make_graph(
        nodes, case.name, [helper.make_tensor_value_info(n, _elem(v, elem), list(v.shape))
                           for n, v in feeds.items()],
        [helper.make_tensor_value_info("out", elem, out_shape)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                    helper.make_opsetid(MS, 1)])
    model.ir_version = 10
    return model, feeds


def _elem(value: np.ndarray, float_elem: int) -> int:
    from onnx import TensorProto

    return TensorProto.INT32 if value.dtype == np.int32 else float_elem


def _matmul_nbits(w: np.ndarray, init: Callable) -> object:
    """Symmetric 4-bit blocks of 32 along K, packed two per byte, as MatMulNBits wants."""
    from onnx import helper

    n, k = w.shape
    blocks = w.reshape(n, k // INT4_BLOCK, INT4_BLOCK)
    scales = np.abs(blocks).max(-1) / 7
    scales[scales == 0] = 1
    codes = (np.clip(np.round(blocks / scales[..., None]), -8, 7) + 8).astype(np.uint8)
    packed = codes[..., 0::2] | (codes[..., 1::2] << 4)
    return helper.make_node(
        "MatMulNBits", ["x", init("wq", packed), init("ws", scales.astype(np.float32).ravel())],
        ["out"], domain=MS, K=k, N=n, bits=4, block_size=INT4_BLOCK, accuracy_level=4)


def _gqa(case: OpCase, a: dict, feed: Callable, init: Callable) -> object:
    """GroupQueryAttention: the last q_len keys and values are the new tokens' (inputs),
    the ones before them the past KV cache, as in a decode step of a Llama export."""
    from onnx import helper

    q, k, v = a["q"], a["k"], a["v"]
    heads, q_len, _ = q.shape
    kv_heads, kv_len, _ = k.shape
    past = kv_len - q_len

    def tokens_major(t: np.ndarray) -> np.ndarray:  # [h, s, d] -> [1, s, h * d]
        return t.transpose(1, 0, 2).reshape(1, t.shape[1], -1)

    names = [feed("q", tokens_major(q)), feed("k_new", tokens_major(k[:, past:])),
             feed("v_new", tokens_major(v[:, past:])),
             init("past_k", k[None, :, :past].copy()), init("past_v", v[None, :, :past].copy()),
             init("seqlens_k", np.array([kv_len - 1], np.int32)),
             init("total_len", np.array(kv_len, np.int32))]
    return helper.make_node("GroupQueryAttention", names, ["out", "present_k", "present_v"],
                            domain=MS, num_heads=heads, kv_num_heads=kv_heads,
                            scale=case.params["scale"])
