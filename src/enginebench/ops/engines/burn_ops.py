"""burn's ops through its compiled runner's ops mode (runners/rust/burn/src/ops.rs)."""

from enginebench.engines.rust_runner import BUILD_SCRIPT
from enginebench.ops.engines.rust_ops import RustRunnerOps


class BurnOps(RustRunnerOps):
    """burn tensor ops on the runner's backend (NdArray by default: f32; int8 is matmul/matvec
    with burn-quantized 8-bit weights, which burn-ndarray dequantizes on every call)."""

    name = "burn"
    binary = "enginebench-burn"
    install = f"bash {BUILD_SCRIPT} burn (needs cargo >= 1.95; other backends: runners/README.md)"
    precisions = ("fp32", "int8")
