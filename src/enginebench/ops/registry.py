"""The ops adapters by CLI name, and the engines that have no op-level interface (and why)."""

import importlib

from enginebench.engines.registry import classes_from
from enginebench.errors import UserError
from enginebench.ops.engines.base import OpsEngine

# CLI name -> "module:Class". Adding an engine's ops: write its adapter, add one line here.
OPS_ENGINES: dict[str, str] = {
    "numpy": "enginebench.ops.engines.numpy_ops:NumpyOps",
    "torch": "enginebench.ops.engines.torch_ops:TorchOps",
    "onnxruntime": "enginebench.ops.engines.onnxruntime_ops:OnnxRuntimeOps",
    "tinygrad": "enginebench.ops.engines.tinygrad_ops:TinygradOps",
    "llamacpp": "enginebench.ops.engines.llamacpp_ops:LlamaCppOps",
    "candle": "enginebench.ops.engines.candle_ops:CandleOps",
    "burn": "enginebench.ops.engines.burn_ops:BurnOps",
}

# model engines with no op-level API to drive, recorded in every ops run
NO_OP_API: dict[str, str] = {
    "ctranslate2": "CTranslate2's Python API runs whole models (Generator, Translator, "
                   "Encoder); its operators are internal C++ with no binding",
    "onnxruntime-genai": "ONNX Runtime GenAI runs whole generation loops; a single op is "
                         "plain ONNX Runtime, which the onnxruntime row measures",
}


def ops_class(name: str) -> type[OpsEngine]:
    if name not in OPS_ENGINES:
        extra = f" ({NO_OP_API[name]})" if name in NO_OP_API else ""
        raise UserError(f"no ops adapter for engine {name!r}{extra}; ops engines: "
                        f"{', '.join(OPS_ENGINES)}")
    module, _, attr = OPS_ENGINES[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def parse_ops_engines(text: str | None) -> list[type[OpsEngine]]:
    """`--engines a,b` as ops adapters; without it, every installed one."""
    return classes_from(text, ops_class, OPS_ENGINES)
