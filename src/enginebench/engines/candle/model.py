"""candle through its compiled runner (runners/rust/candle): candle-transformers' Llama on
the checkpoint's safetensors, and its quantized Llama on the GGUF files that llama.cpp's
own converter and quantizer make (byte-identical to the llamacpp engine's artifacts)."""

import importlib.metadata
from pathlib import Path
from typing import ClassVar

from enginebench.engines.base import PRECISION_CLASSES, MemoryModel, PrecisionClass, Unsupported
from enginebench.engines.llamacpp import gguf
from enginebench.engines.llamacpp.model import GGUF, LlamaCppEngine
from enginebench.engines.rust.runner import BUILD_SCRIPT, RustRunnerEngine
from enginebench.models.checkpoint import Checkpoint


def _gguf_maker_version() -> str:
    try:
        return importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        return "absent"


class CandleEngine(RustRunnerEngine):
    name = "candle"
    binary = "enginebench-candle"
    install = f"bash {BUILD_SCRIPT} candle (needs cargo >= 1.95; GPU features: runners/README.md)"
    precisions: ClassVar[dict[str, PrecisionClass]] = {
        "f32": "fp32", "f16": "fp16", "bf16": "bf16",
        "q8_0": "int8", "q4_0": "int4", "q4_k_m": "int4",
    }
    devices = ("cpu", "cuda", "metal")
    converts = True
    # the GGUF is llama.cpp's: it changes with llama-cpp-python, not with candle
    converter_version = f"llamacpp-{LlamaCppEngine.converter_version}-{_gguf_maker_version()}"
    # floats: safetensors copied at the dtype; quantized: the GGUF read into memory plus
    # its embedding dequantized to f32 (quantized_llama), f32 KV cache; llama.cpp converts
    memory = MemoryModel(weights={"int8": 1.15, "int4": 0.7},
                         kv={"fp32": 4.0, "int8": 4.0, "int4": 4.0}, overhead_bytes=0.4e9,
                         convert=dict.fromkeys(PRECISION_CLASSES, (0.2, 0.0)))

    @classmethod
    def needs_artifact(cls, precision: str) -> bool:
        return precision in gguf.QUANT_FTYPES

    # candle-transformers' llama takes head_dim as hidden/heads and has no biases; its
    # quantized_llama reads neither llama.cpp's rope_freqs (llama3 scaling) nor key_length
    honours = frozenset({"rope_type:llama3", "tie_word_embeddings"})

    @classmethod
    def honoured(cls, precision: str) -> frozenset[str]:
        if cls.needs_artifact(precision):
            return frozenset({"tie_word_embeddings"})
        return cls.honours

    def prepare(self, ckpt: Checkpoint, precision: str, out_dir: Path) -> None:
        if not LlamaCppEngine.available():
            raise Unsupported(f"candle's {precision} runs llama.cpp's GGUF, made by llama.cpp's "
                              f"converter; install it with: {LlamaCppEngine.install}")
        LlamaCppEngine().prepare(ckpt, precision, out_dir)

    def artifact_file(self, artifact: Path, precision: str) -> Path | None:
        return artifact / GGUF if self.needs_artifact(precision) else None

    def load_notes(self, precision: str) -> list[str]:
        if self.needs_artifact(precision):
            return ["GGUF made by llama.cpp's converter and quantizer (the same file as the "
                    "llamacpp engine's), run by candle-transformers' quantized_llama"]
        return [f"safetensors loaded as {precision} by candle-transformers' llama; attention "
                "scores and softmax in f32"]
