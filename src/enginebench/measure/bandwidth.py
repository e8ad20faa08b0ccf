"""STREAM-style memory bandwidth of this machine at the run's thread count and at several
working-set sizes: the ceiling of the decode roofline.

A small C kernel (`stream.c`, compiled once with the system compiler and OpenMP into the
cache) runs three STREAM kernels over NumPy-allocated arrays: copy (a = b: 2 arrays
moved), triad (a = b + s*c: 3 arrays) and read (sum of a: 1 array, the access pattern of
reading weights), best of several passes after an untimed one. A working set that fits in
a cache level gets that level's bandwidth, so each size is kept, and a result is compared
with the bandwidth at its own working-set size.
"""

import ctypes
import hashlib
import os
import shutil
import subprocess
import time
from importlib import resources

import numpy as np
import psutil

from enginebench.paths import cache_root

SIZES_MB = (8, 32, 128, 512, 2048)
KERNELS = ("copy", "triad", "read")
ARRAYS = {"copy": 2, "triad": 3, "read": 1}
CFLAGS = ["-O3", "-march=native", "-fopenmp", "-shared", "-fPIC"]


def _library() -> ctypes.CDLL:
    """stream.c compiled for this machine, from the cache or built now."""
    source = (resources.files("enginebench.measure") / "stream.c").read_bytes()
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler (cc/gcc) to build the bandwidth kernel; "
                           "install gcc (scripts/system-deps.sh)")
    key = hashlib.sha256(source + " ".join([cc, *CFLAGS]).encode()).hexdigest()[:12]
    lib = cache_root() / "tools" / f"stream-{key}.so"
    if not lib.is_file():
        lib.parent.mkdir(parents=True, exist_ok=True)
        src = lib.with_suffix(f".{os.getpid()}.c")
        src.write_bytes(source)
        tmp = lib.with_suffix(f".{os.getpid()}.tmp")
        out = subprocess.run([cc, *CFLAGS, str(src), "-o", str(tmp)],
                             capture_output=True, text=True, check=False)
        src.unlink()
        if out.returncode != 0:
            raise RuntimeError(f"{cc} could not build the bandwidth kernel: "
                               f"{out.stderr.strip()[-500:]}")
        tmp.rename(lib)
    dll = ctypes.CDLL(str(lib))
    for name in ("eb_copy", "eb_triad", "eb_read"):
        getattr(dll, name).restype = ctypes.c_double
    return dll


def _gbs(dll: ctypes.CDLL, kernel: str, total_bytes: int, repeats: int) -> float:
    """Best GB/s of `kernel`; small sizes get more passes (a gigabyte's worth), so that
    one pass without a descheduled thread is among them on a busy machine."""
    repeats = max(repeats, (1 << 30) // total_bytes)
    n = total_bytes // (8 * ARRAYS[kernel])
    arrays = [np.full(n, 1.0 + k) for k in range(ARRAYS[kernel])]
    ptrs = [a.ctypes.data_as(ctypes.c_void_p) for a in arrays]
    seconds = getattr(dll, f"eb_{kernel}")(*ptrs, ctypes.c_size_t(n), ctypes.c_int(repeats))
    return ARRAYS[kernel] * n * 8 / seconds / 1e9


def measure_bandwidth(threads: int, repeats: int = 5,
                      sizes_mb: tuple[int, ...] = SIZES_MB) -> dict:
    """Copy, triad and read GB/s at each working-set size this machine's RAM allows."""
    dll = _library()
    dll.eb_set_threads(threads)
    limit = psutil.virtual_memory().available // 4
    sizes = [s for s in sizes_mb if s << 20 <= limit] or [min(sizes_mb)]
    start = time.perf_counter()
    points = [{"bytes": size << 20,
               **{f"{k}_gbs": round(_gbs(dll, k, size << 20, repeats), 2) for k in KERNELS}}
              for size in sizes]
    return {
        "method": f"STREAM-style copy/triad/read in C with OpenMP ({threads} threads), best "
                  f"of at least {repeats} passes (1 GB's worth) per working-set size",
        "threads": threads,
        "seconds": round(time.perf_counter() - start, 2),
        "points": points,
    }


def bandwidth_or_reason(threads: int, sizes_mb: tuple[int, ...] = SIZES_MB) -> dict:
    """`measure_bandwidth`, or `{"error": why}` when it cannot run (no C compiler): a run
    goes on without its memory roofline and says why."""
    try:
        return measure_bandwidth(threads, sizes_mb=sizes_mb)
    except RuntimeError as e:
        return {"error": str(e)}


def bandwidth_for(bandwidth: dict, working_set: float) -> tuple[float, int]:
    """(GB/s, size measured) for a working set: the best kernel at the largest measured size
    not above it (or the smallest size), so that caches never make the ceiling too low."""
    points = sorted(bandwidth["points"], key=lambda p: p["bytes"])
    fitting = [p for p in points if p["bytes"] <= working_set] or points[:1]
    point = fitting[-1]
    return max(point[f"{k}_gbs"] for k in KERNELS), point["bytes"]
