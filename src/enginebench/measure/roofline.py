"""The decode roofline: the most tokens/s the memory bus allows when every weight is read
once per token, and the marking of results above it as implausible.

Bytes per token are a lower bound, so the bound is an upper bound: every weight matrix
(q, k, v, o, gate, up, down per layer, and the output head) at the nominal size of the
precision class (4, 2, 1 or 0.5 bytes per weight, ignoring scales and layers an engine
keeps wider), plus the KV cache read at the average decode step at 2 bytes per value. The
input embedding table is not counted (one row is read per token) unless it is also the
output head (tied). The bandwidth is the best STREAM kernel at the largest measured
working set not above the bytes per token, so a model that fits in a cache is held to
that cache's bandwidth.
"""

from enginebench.measure.bandwidth import bandwidth_for
from enginebench.models.config import ModelConfig

BYTES_PER_WEIGHT = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
KV_BYTES = 2.0
MARGIN = 0.20  # above the bound by more than this is implausible, not noise


def decode_bytes_per_token(config: ModelConfig, precision_class: str, prompt_tokens: int,
                           new_tokens: int) -> float:
    """Lower bound on the bytes a decode step reads, averaged over the generated tokens."""
    h, layers = config.hidden_size, config.num_layers
    heads, kv_heads, head_dim = config.num_heads, config.num_kv_heads, config.head_dim
    per_layer = 2 * h * heads * head_dim + 2 * h * kv_heads * head_dim \
        + 3 * h * config.intermediate_size
    weights = layers * per_layer + config.vocab_size * h
    mean_context = prompt_tokens + (new_tokens - 1) / 2
    kv = 2 * layers * kv_heads * head_dim * mean_context * KV_BYTES
    return weights * BYTES_PER_WEIGHT[precision_class] + kv


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
