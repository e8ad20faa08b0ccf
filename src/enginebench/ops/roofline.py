"""The operator roofline: an op at arithmetic intensity I (FLOP per byte moved) can reach at
most min(peak FLOP/s, I x bandwidth), with the bandwidth measured at the op's own working
set (a small op runs from cache) and the peak the best engine's square matmul.
"""

from enginebench.measure.bandwidth import bandwidth_for

MARGIN = 0.20  # above the roof by more than this is implausible, not noise


def peak_for(peaks: dict[str, float], precision: str) -> float | None:
    """The FLOP/s ceiling of a precision: its own peak matmul, else fp32's."""
    return peaks.get(precision) or peaks.get("fp32")


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


def implausible(pct: float, nbytes: float, bandwidth: dict | None) -> str | None:
    """Why a result above the roof is not a win, or None."""
    if pct <= 100 * (1 + MARGIN):
        return None
    smallest = min((p["bytes"] for p in (bandwidth or {}).get("points", [])), default=None)
    why = (f"; its {nbytes / 1e3:.0f} KB working set is below the smallest measured "
           f"({smallest / 1e6:.0f} MB), so it ran from a faster cache level than measured"
           if smallest and nbytes < smallest else "")
    return f"{pct:.0f}% of the roofline{why}"
