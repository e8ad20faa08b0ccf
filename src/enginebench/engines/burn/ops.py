"""burn's ops through its compiled runner's ops mode (runners/rust/burn/src/ops.rs)."""

from enginebench.engines.burn.model import BurnEngine
from enginebench.engines.rust.ops import RustRunnerOps


class BurnOps(RustRunnerOps):
    """burn tensor ops on the default runner's backend, Flex: fp32, fp16, bf16 (its quantized
    types are storage-only, so no int8 or int4; the runner's ops mode still answers int8 on
    an NdArray build, which dequantizes the weight on every call)."""

    model = BurnEngine
    precisions = ("fp32", "fp16", "bf16")
