"""candle's ops through its compiled runner's ops mode (runners/rust/candle/src/ops.rs)."""

from enginebench.engines.rust_runner import BUILD_SCRIPT
from enginebench.ops.engines.rust_ops import RustRunnerOps


class CandleOps(RustRunnerOps):
    """candle-nn's ops at f32/f16/bf16; int8 and int4 are matmul/matvec through QMatMul on
    GGML Q8_0/Q4_0 weights (activations stay f32)."""

    name = "candle"
    binary = "enginebench-candle"
    install = f"bash {BUILD_SCRIPT} candle (needs cargo >= 1.95; GPU features: runners/README.md)"
    precisions = ("fp32", "fp16", "bf16", "int8", "int4")
