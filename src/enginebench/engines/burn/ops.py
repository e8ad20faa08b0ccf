"""burn's ops through its compiled runner's ops mode (runners/rust/burn/src/ops.rs)."""

from enginebench.engines.burn.model import BurnEngine
from enginebench.engines.rust.ops import RustRunnerOps


class BurnOps(RustRunnerOps):
    """burn tensor ops on the runner's backend (NdArray by default: f32; int8 is matmul/matvec
    with burn-quantized 8-bit weights, which burn-ndarray dequantizes on every call)."""

    model = BurnEngine
    precisions = ("fp32", "int8")
