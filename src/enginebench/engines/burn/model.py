"""burn through its compiled runner (runners/rust/burn): a Llama written in burn for this
project (no crates.io crate provides one), loading the checkpoint's safetensors, on burn's
Flex CPU backend unless the runner is built with another backend's cargo feature (NdArray,
deprecated in burn 0.22, is one of them)."""

from typing import ClassVar

from enginebench.engines.base import MemoryModel, PrecisionClass
from enginebench.engines.rust.runner import BUILD_SCRIPT, RustRunnerEngine


class BurnEngine(RustRunnerEngine):
    name = "burn"
    binary = "enginebench-burn"
    install = f"bash {BUILD_SCRIPT} burn (needs cargo >= 1.95; other backends: runners/README.md)"
    # q8/q4: burn's own quantization (symmetric, f32 scale per block of 32), applied at load
    precisions: ClassVar[dict[str, PrecisionClass]] = {
        "f32": "fp32", "f16": "fp16", "bf16": "bf16", "q8": "int8", "q4": "int4",
    }
    devices = ("cpu", "cuda", "rocm", "metal", "wgpu")
    honours = frozenset({"rope_type:llama3", "head_dim", "tie_word_embeddings"})
    # weights read one tensor at a time at the dtype, q8/q4 with an f32 scale per block of
    # 32 and f32 embeddings; KV cache preallocated for the context at the float dtype
    memory = MemoryModel(weights={"int8": 1.25, "int4": 0.7},
                         kv={"fp32": 4.0, "int8": 4.0, "int4": 4.0}, overhead_bytes=0.4e9)
