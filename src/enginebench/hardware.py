"""The CPU this process runs on, as py-cpuinfo reads it, or the kernel's /proc/cpuinfo when
py-cpuinfo fails (its helper process can die): read once, shared by the environment record
and the adapters whose documented settings depend on the CPU."""

from functools import cache
from pathlib import Path

PROC_CPUINFO = Path("/proc/cpuinfo")


def proc_cpuinfo() -> dict:
    """The model name and flags of the first CPU in /proc/cpuinfo (x86 `flags`, Arm
    `Features`), in py-cpuinfo's keys; {} where there is no such file."""
    try:
        text = PROC_CPUINFO.read_text(errors="replace")
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())
    out: dict = {}
    brand = fields.get("model name") or fields.get("hardware") or fields.get("cpu model")
    if brand:
        out["brand_raw"] = brand
    flags = fields.get("flags") or fields.get("features")
    if flags:
        out["flags"] = sorted(flags.split())
    return out


@cache
def cpu_info() -> dict:
    """py-cpuinfo's record, its missing brand and flags filled from /proc/cpuinfo."""
    try:
        import cpuinfo

        info = dict(cpuinfo.get_cpu_info() or {})
    except Exception:
        info = {}
    if not info.get("brand_raw") or not info.get("flags"):
        fallback = proc_cpuinfo()
        info = {**info, **{k: v for k, v in fallback.items() if not info.get(k)}}
    return info


def cpu_flags() -> frozenset[str]:
    return frozenset(cpu_info().get("flags", []))
