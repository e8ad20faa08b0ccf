"""candle's ops through its compiled runner's ops mode (runners/rust/candle/src/ops.rs)."""

from enginebench.engines.candle.model import CandleEngine
from enginebench.engines.rust.ops import RustRunnerOps


class CandleOps(RustRunnerOps):
    """candle-nn's ops at f32/f16/bf16; int8 and int4 are matmul/matvec through QMatMul on
    GGML Q8_0/Q4_0 weights (activations stay f32)."""

    model = CandleEngine
    precisions = ("fp32", "fp16", "bf16", "int8", "int4")
