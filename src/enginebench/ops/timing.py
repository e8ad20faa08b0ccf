"""How an op is timed, the same way for every engine: warm-up calls, then a number of calls
per sample chosen so one sample lasts at least `min_sample_s`, then `reps` samples, each
reported as seconds per call. The Rust runners implement the same plan in their ops mode.
"""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class TimingPlan:
    warmups: int = 2
    reps: int = 10
    min_sample_s: float = 0.02
    max_calls: int = 1 << 16

    def to_dict(self) -> dict:
        return asdict(self)


def _sample(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return time.perf_counter() - start


def calls_per_sample(fn: Callable[[], object], plan: TimingPlan) -> int:
    """Double the calls until one sample reaches min_sample_s (or max_calls)."""
    calls = 1
    while calls < plan.max_calls:
        seconds = _sample(fn, calls)
        if seconds >= plan.min_sample_s:
            break
        # jump close to the target, at least doubling, at most to max_calls
        wanted = int(calls * plan.min_sample_s / max(seconds, 1e-9) * 1.1) + 1
        calls = min(plan.max_calls, max(2 * calls, wanted))
    return calls


def time_calls(fn: Callable[[], object], plan: TimingPlan) -> tuple[int, list[float]]:
    """(calls per sample, seconds per call of each of `reps` samples)."""
    for _ in range(plan.warmups):
        fn()
    calls = calls_per_sample(fn, plan)
    return calls, [_sample(fn, calls) / calls for _ in range(plan.reps)]
