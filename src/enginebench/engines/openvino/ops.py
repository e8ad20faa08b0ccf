"""OpenVINO: each op as a one-op OpenVINO model (`openvino.opset13`), compiled by the CPU
plugin with the cell's inference precision pinned and `threads` inference threads, and
run through its infer request.

Weights (a matmul's `w`) are constants of the model, as in an exported LLM, so the plugin
packs them at compile time; the other inputs are parameters fed each call. int8 and int4
run matmul/matvec only, the weight compressed by NNCF (`nncf.compress_weights`) in the
modes the model face's export uses (int8_asym per output channel; int4_asym in groups of
128), and the plugin's FullyConnected runs on the compressed weight.
"""

from collections.abc import Callable

import numpy as np

from enginebench.engines.base import OpsEngine, Unsupported
from enginebench.engines.openvino import plugin
from enginebench.engines.openvino.model import INT4_GROUP, OpenVinoEngine, compression_mode
from enginebench.ops.cases import OpCase, causal_mask


class OpenVinoOps(OpsEngine):
    model = OpenVinoEngine
    modules = ("openvino", "nncf")
    precisions = ("fp32", "fp16", "bf16", "int8", "int4")

    def __init__(self, threads: int, device: str = "cpu") -> None:
        super().__init__(threads, device)
        import openvino as ov
        import openvino.opset13 as opset

        self.ov, self.opset, self.core = ov, opset, ov.Core()
        self.last: dict[str, str] = {}

    def build_info(self) -> dict:
        return {"device": self.core.get_property("CPU", "FULL_DEVICE_NAME"),
                "capabilities": list(self.core.get_property("CPU",
                                                            "OPTIMIZATION_CAPABILITIES")),
                "compiled": self.last}

    def prepare(self, case: OpCase, inputs: dict[str, np.ndarray], precision: str
                ) -> Callable[[], object]:
        if precision in ("int8", "int4") and case.op not in ("matmul", "matvec"):
            raise Unsupported(f"{precision} is weight compression of matmuls in OpenVINO "
                              f"(NNCF); {case.op} has no {precision} kernel")
        params = {n: self.opset.parameter(list(v.shape), self.ov.Type.f32, name=n)
                  for n, v in inputs.items() if n not in case.weights}
        consts = {n: self.opset.constant(inputs[n]) for n in case.weights}
        out = self._op(case, {**params, **consts})
        model = self.ov.Model([out], list(params.values()), case.name)
        if precision in ("int8", "int4"):
            model = self._compress(model, precision)
        compiled = self.core.compile_model(model, "CPU",
                                           plugin.properties(precision, self.threads))
        plugin.check_precision(compiled, precision)
        self.last = plugin.reported(compiled)
        request = compiled.create_infer_request()
        feed = [np.ascontiguousarray(inputs[n]) for n in params]

        def fn() -> object:
            request.infer(feed)
            return request.get_output_tensor(0).data
        return fn

    @classmethod
    def supports(cls, op: str, precision: str) -> bool:
        """As declared, less the float precisions this CPU's plugin has no arithmetic for
        (it would run them at f32: plugin.capability_problem)."""
        return super().supports(op, precision) and plugin.capability_problem(precision) is None

    def _compress(self, model: object, precision: str) -> object:
        import nncf
        from nncf.quantization.advanced_parameters import (
            AdvancedCompressionParameters,
            GroupSizeFallbackMode,
        )

        kwargs = {}
        # as the export: int8 every layer; int4 in groups of 128 (smaller where 128 does not
        # divide), all layers (a one-matmul model's only layer would be left at int8)
        if precision == "int4":
            kwargs = {"group_size": INT4_GROUP, "ratio": 1.0, "all_layers": True,
                      "advanced_parameters": AdvancedCompressionParameters(
                          group_size_fallback_mode=GroupSizeFallbackMode.ADJUST)}
        return nncf.compress_weights(model, mode=compression_mode(precision), **kwargs)

    def _op(self, case: OpCase, a: dict) -> object:
        o = self.opset
        if case.op in ("matmul", "matvec"):
            return o.matmul(a["x"], a["w"], False, True)
        if case.op == "rmsnorm":
            x = a["x"]
            mean = o.reduce_mean(o.multiply(x, x), o.constant([-1]), True)
            eps = o.constant(np.float32(case.params["eps"]))
            return o.multiply(o.divide(x, o.sqrt(o.add(mean, eps))), a["weight"])
        if case.op == "softmax":
            return o.softmax(a["x"], -1)
        if case.op == "rope":
            return self._rope(a["x"], a["cos"], a["sin"])
        if case.op == "swiglu":
            return o.multiply(o.swish(a["gate"]), a["up"])
        return self._sdpa(case, a)

    def _rope(self, x: object, cos: object, sin: object) -> object:
        o = self.opset
        x1, x2 = o.split(x, o.constant(-1), 2).outputs()
        cos = o.unsqueeze(cos, o.constant([1]))
        sin = o.unsqueeze(sin, o.constant([1]))
        return o.concat([o.subtract(o.multiply(x1, cos), o.multiply(x2, sin)),
                         o.add(o.multiply(x2, cos), o.multiply(x1, sin))], -1)

    def _sdpa(self, case: OpCase, a: dict) -> object:
        o = self.opset
        q, k, v = a["q"], a["k"], a["v"]
        heads = q.get_partial_shape()[0].get_length()
        kv_heads, kv_len, d = (dim.get_length() for dim in k.get_partial_shape())
        q_len = q.get_partial_shape()[1].get_length()
        group = heads // kv_heads

        def repeat(t: object) -> object:  # GQA: each kv head serves `group` query heads
            t = o.unsqueeze(t, o.constant([1]))
            t = o.broadcast(t, o.constant([kv_heads, group, kv_len, d]))
            return o.reshape(t, o.constant([1, heads, kv_len, d]), False)

        q4 = o.unsqueeze(q, o.constant([0]))
        # an additive float mask, as the exported LLM feeds its SDPA: with a boolean mask
        # and one query the CPU plugin's bf16 kernel is wrong (OpenVINO 2026.4.1: max
        # relative error 1.2 to 2.0 against float64; float masks stay within 4e-3)
        mask = o.constant(np.where(causal_mask(q_len, kv_len), 0.0, -np.inf
                                   ).astype(np.float32))
        scale = o.constant(np.float32(case.params["scale"]))
        out = o.scaled_dot_product_attention(q4, repeat(k), repeat(v), mask, scale)
        return o.squeeze(out, o.constant([0]))
