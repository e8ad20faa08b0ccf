"""The decode roofline: the most tokens/s the memory bus allows when every weight is read
once per token, and the marking of results above it as implausible.

Bytes per token are a lower bound, so the bound is an upper bound: every weight matrix
(q, k, v, o, gate, up, down per layer, and the output head) at the nominal size of the
precision class (4, 2, 1 or 0.5 bytes per weight, ignoring scales and layers an engine
keeps wider), plus the KV cache read at the average decode step at 2 bytes per value;
a batch of B sequences reads the weights once per step for B tokens and B KV caches. The
input embedding table is not counted (one row is read per token) unless it is also the
output head (tied). The bandwidth is the best STREAM kernel at the largest measured
working set not above the bytes per token, so a model that fits in a cache is held to
that cache's bandwidth.

The operator roofline: an op at arithmetic intensity I (FLOP per byte moved) can reach at
most min(peak FLOP/s, I x bandwidth), with the bandwidth measured at the op's own working
set (a small op runs from cache) and the peak the fastest sample of any engine's square
matmul. Above either bound by more than MARGIN a result is implausible, not noise.
"""

from enginebench.measure.bandwidth import bandwidth_for
from enginebench.models.config import ModelConfig

BYTES_PER_WEIGHT = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
KV_BYTES = 2.0
MARGIN = 0.20  # above the bound by more than this is implausible, not noise


def decode_bytes_per_token(config: ModelConfig, precision_class: str, prompt_tokens: int,
                           new_tokens: int, batch: int = 1) -> float:
    """Lower bound on the bytes a decode step reads per token generated, averaged over the
    generated tokens: a step of a batch of B reads the weights once and each sequence's
    KV cache, for B tokens."""
    h, layers = config.hidden_size, config.num_layers
    heads, kv_heads, head_dim = config.num_heads, config.num_kv_heads, config.head_dim
    per_layer = 2 * h * heads * head_dim + 2 * h * kv_heads * head_dim \
        + 3 * h * config.intermediate_size
    weights = layers * per_layer + config.vocab_size * h
    mean_context = prompt_tokens + (new_tokens - 1) / 2
    kv = 2 * layers * kv_heads * head_dim * mean_context * KV_BYTES
    return (weights * BYTES_PER_WEIGHT[precision_class] + batch * kv) / batch


def roofline(decode_tps: float, bytes_per_token: float, bandwidth: dict) -> dict:
    """The bound, the share of it reached, and why the result is implausible if it is."""
    gbs, measured_at = bandwidth_for(bandwidth, bytes_per_token)
    bound = gbs * 1e9 / bytes_per_token
    pct = 100 * decode_tps / bound
    implausible = None
    if pct > 100 * (1 + MARGIN):
        implausible = (f"decode {decode_tps:.1f} tok/s is {pct:.0f}% of the memory-bandwidth "
                       f"bound {bound:.1f} tok/s ({bytes_per_token / 1e6:.1f} MB read per "
                       f"token at {gbs:.1f} GB/s); above {100 * (1 + MARGIN):.0f}% the "
                       "weights cannot all have been read once per token")
    return {"bytes_per_token": bytes_per_token, "bandwidth_gbs": gbs,
            "bandwidth_at_bytes": measured_at, "roofline_tps": bound, "roofline_pct": pct,
            "implausible": implausible}



def peak_for(peaks: dict[str, float], precision: str) -> float | None:
    """The FLOP/s ceiling of a precision: the faster of its own peak matmul and fp32's,
    since any weight format can be widened to fp32 and multiplied at fp32's rate (so a
    precision no engine computes quickly, such as int4 here, is not given a low roof)."""
    return max(peaks.get(precision, 0.0), peaks.get("fp32", 0.0)) or None


def roof(flops: float, nbytes: float, peak_gflops: float | None,
         bandwidth: dict | None) -> tuple[float | None, str | None]:
    """(roof GFLOP/s, "compute" or "memory") at the op's intensity and working set."""
    memory = None
    if bandwidth and bandwidth.get("points"):
        memory = flops / nbytes * bandwidth_for(bandwidth, nbytes)[0]
    if peak_gflops is None or memory is None:
        return (peak_gflops or memory), ("compute" if memory is None and peak_gflops
                                         else "memory" if memory else None)
    return (peak_gflops, "compute") if peak_gflops <= memory else (memory, "memory")


def op_implausible(pct: float, nbytes: float, bound: str | None,
                bandwidth: dict | None) -> str | None:
    """Why a result above the roof is not a win, or None."""
    if pct <= 100 * (1 + MARGIN):
        return None
    head = f"{pct:.0f}% of the roofline, more than {100 * MARGIN:.0f}% above it: "
    if bound == "compute":
        return head + ("the peak matmul was measured below what this op reached (its best "
                       "sample was slowed, or this shape suits the engine's kernels better)")
    smallest = min((p["bytes"] for p in (bandwidth or {}).get("points", [])), default=None)
    if smallest and nbytes < smallest:
        why = (f"its {nbytes / 1e3:.0f} KB working set is below the smallest measured "
               f"({smallest / 1e6:.0f} MB), so it ran from a faster cache level than measured")
    else:
        why = ("the ceiling was measured low (STREAM varies between passes on a busy "
               "machine), or the op moved fewer bytes than counted (a cached operand)")
    return head + why
