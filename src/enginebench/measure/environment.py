"""The machine and software a run was measured on, captured with every run."""

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import psutil

import enginebench
from enginebench.errors import UserError
from enginebench.hardware import cpu_info

# CPU flags worth showing a reader (the full list is kept too)
KEY_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
             "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8", "asimd", "neon",
             "sve", "i8mm", "bf16")


@cache
def gpus() -> list[str]:
    """Names and drivers of NVIDIA/AMD GPUs, from their vendors' tools if present."""
    if shutil.which("nvidia-smi"):
        out = _run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                    "--format=csv,noheader"])
        return [f"{line.strip()}" for line in out.splitlines() if line.strip()]
    if shutil.which("rocm-smi"):
        out = _run(["rocm-smi", "--showproductname", "--json"])
        try:
            return [v.get("Card series", "AMD GPU") for v in json.loads(out).values()]
        except (json.JSONDecodeError, AttributeError):
            return []
    return []


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20, cwd=cwd,
                              check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def suite_commit() -> dict:
    """The enginebench source commit and whether the tree had local changes."""
    here = Path(__file__).resolve().parent
    commit = _run(["git", "rev-parse", "HEAD"], cwd=here).strip()
    dirty = bool(_run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here))
    return {"commit": commit or None, "dirty": dirty if commit else None}


def default_machine_label() -> str:
    """A stable human label from the hardware: cpu-<model>-<simd>-<cores>c (never the
    hostname). Where the CPU model cannot be read, there is no label rather than another
    one: the same machine's results must not be filed under two names."""
    brand = cpu_info().get("brand_raw")
    if not brand:
        raise UserError("cannot read this machine's CPU model (py-cpuinfo and /proc/cpuinfo "
                        "both failed); pass --machine LABEL to file its results under a "
                        "stable name")
    brand = brand.lower()
    brand = re.sub(r"\(r\)|\(tm\)|cpu|processor|@.*|\d+-core", " ", brand)
    slug = re.sub(r"[^a-z0-9]+", "-", brand).strip("-")[:40]
    flags = set(cpu_info().get("flags", []))
    simd = next((f for f in ("avx512f", "avx2", "sve", "asimd") if f in flags), "")
    simd = simd.removesuffix("f").replace("asimd", "neon")
    cores = psutil.cpu_count(logical=False) or os.cpu_count()
    kind = "gpu" if gpus() else "cpu"
    return "-".join(x for x in (kind, slug, simd, f"{cores}c") if x)


def machine(label: str) -> dict:
    info = cpu_info()
    return {
        "label": label,
        "cpu": info.get("brand_raw", "unknown"),
        "arch": platform.machine(),
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(logical=True),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "gpu": gpus(),
    }


def environment() -> dict:
    info = cpu_info()
    flags = info.get("flags", [])
    return {
        "cpu_flags": [f for f in KEY_FLAGS if f in flags],
        "cpu_flags_all": flags,
        "cpu_hz_advertised": info.get("hz_advertised_friendly"),
        "l2_cache": info.get("l2_cache_size"),
        "l3_cache": info.get("l3_cache_size"),
        "os": platform.platform(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "enginebench": enginebench.__version__,
        "suite": suite_commit(),
        "engines": {},
    }
