"""The CPU this process runs on, as py-cpuinfo reads it: read once, shared by the
environment record and the adapters whose documented settings depend on the CPU."""

from functools import cache


@cache
def cpu_info() -> dict:
    import cpuinfo

    return cpuinfo.get_cpu_info()


def cpu_flags() -> frozenset[str]:
    return frozenset(cpu_info().get("flags", []))
