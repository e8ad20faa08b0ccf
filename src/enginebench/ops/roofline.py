"""The operator roofline: an op at arithmetic intensity I (FLOP per byte moved) can reach at
most min(peak FLOP/s, I x bandwidth), with the bandwidth measured at the op's own working
set (a small op runs from cache) and the peak the fastest sample of any engine's square
matmul.
"""

from enginebench.measure.bandwidth import bandwidth_for

MARGIN = 0.20  # above the roof by more than this is implausible, not noise


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


def implausible(pct: float, nbytes: float, bound: str | None,
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
