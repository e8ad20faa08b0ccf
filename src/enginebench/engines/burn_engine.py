"""burn through its compiled runner (runners/rust/burn): a Llama written in burn (no
crates.io crate provides one), loading the checkpoint's safetensors, on burn's NdArray CPU
backend unless built with another backend's cargo feature."""

from typing import ClassVar

from enginebench.engines.base import PrecisionClass
from enginebench.engines.rust_runner import BUILD_SCRIPT, RustRunnerEngine


class BurnEngine(RustRunnerEngine):
    name = "burn"
    binary = "enginebench-burn"
    install = f"bash {BUILD_SCRIPT} burn (needs cargo >= 1.95; other backends: runners/README.md)"
    precisions: ClassVar[dict[str, PrecisionClass]] = {"f32": "fp32", "f16": "fp16",
                                                       "q8": "int8", "q4": "int4"}
    devices = ("cpu", "cuda", "gpu")
