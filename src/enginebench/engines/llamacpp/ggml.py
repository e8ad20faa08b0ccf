"""The few ggml functions llama.cpp's adapters call that llama-cpp-python does not bind,
declared against the ggml.h it ships and loaded from the libggml-base and libggml-cpu
libraries it installs; and the persistent ggml threadpool both adapters use.
"""

import ctypes
import functools
import importlib.util
from pathlib import Path
from types import SimpleNamespace

from enginebench.engines.base import Unsupported

GGML_MAX_N_THREADS = 512


class InitParams(ctypes.Structure):
    """struct ggml_init_params, passed by value to ggml_init."""

    _fields_ = (("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p),
                ("no_alloc", ctypes.c_bool))


class ThreadpoolParams(ctypes.Structure):
    """struct ggml_threadpool_params (ggml.h)."""

    _fields_ = (("cpumask", ctypes.c_bool * GGML_MAX_N_THREADS), ("n_threads", ctypes.c_int),
                ("prio", ctypes.c_int), ("poll", ctypes.c_uint32),
                ("strict_cpu", ctypes.c_bool), ("paused", ctypes.c_bool))


class CPlan(ctypes.Structure):
    """struct ggml_cplan (ggml-cpu.h), returned by value by ggml_graph_plan."""

    _fields_ = (("work_size", ctypes.c_size_t), ("work_data", ctypes.c_void_p),
                ("n_threads", ctypes.c_int), ("threadpool", ctypes.c_void_p),
                ("abort_callback", ctypes.c_void_p), ("abort_callback_data", ctypes.c_void_p),
                ("use_ref", ctypes.c_bool))


@functools.cache
def ggml_api() -> SimpleNamespace:
    """ggml's functions from the libraries llama-cpp-python installs, with their C types."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        raise Unsupported("llama_cpp is not installed")
    lib = Path(spec.origin).parent / "lib"
    try:
        base = ctypes.CDLL(str(next(lib.glob("libggml-base.*"))), mode=ctypes.RTLD_GLOBAL)
        cpu = ctypes.CDLL(str(next(lib.glob("libggml-cpu.*"))), mode=ctypes.RTLD_GLOBAL)
    except (StopIteration, OSError) as e:
        raise Unsupported(f"no loadable libggml-base/libggml-cpu in {lib}: {e}") from e
    p, i64, f = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
    i, size = ctypes.c_int, ctypes.c_size_t
    sigs = {  # name: (library, restype, argtypes)
        "ggml_init": (base, p, [InitParams]),
        "ggml_free": (base, None, [p]),
        "ggml_tensor_overhead": (base, size, []),
        "ggml_graph_overhead": (base, size, []),
        "ggml_row_size": (base, size, [i, i64]),
        "ggml_nbytes": (base, size, [p]),
        "ggml_get_data": (base, p, [p]),
        "ggml_new_tensor_1d": (base, p, [p, i, i64]),
        "ggml_new_tensor_2d": (base, p, [p, i, i64, i64]),
        "ggml_new_tensor_3d": (base, p, [p, i, i64, i64, i64]),
        "ggml_quantize_chunk": (base, size, [i, p, p, i64, i64, i64, p]),
        "ggml_mul_mat": (base, p, [p, p, p]),
        "ggml_rms_norm": (base, p, [p, p, f]),
        "ggml_mul": (base, p, [p, p, p]),
        "ggml_soft_max": (base, p, [p, p]),
        "ggml_rope_ext": (base, p, [p, p, p, p, i, i, i, f, f, f, f, f, f]),
        "ggml_swiglu_split": (base, p, [p, p, p]),
        "ggml_flash_attn_ext": (base, p, [p, p, p, p, p, f, f, f]),
        "ggml_prec_set_acc": (base, ctypes.c_bool, [p, i]),
        "ggml_new_graph": (base, p, [p]),
        "ggml_build_forward_expand": (base, None, [p, p]),
        "ggml_threadpool_params_init": (base, None, [ctypes.POINTER(ThreadpoolParams), i]),
        "ggml_threadpool_new": (cpu, p, [ctypes.POINTER(ThreadpoolParams)]),
        "ggml_threadpool_free": (cpu, None, [p]),
        "ggml_graph_plan": (cpu, CPlan, [p, i, p]),
        "ggml_graph_compute": (cpu, i, [p, ctypes.POINTER(CPlan)]),
    }
    funcs = {}
    for name, (so, restype, argtypes) in sigs.items():
        fn = getattr(so, name)
        fn.restype, fn.argtypes = restype, argtypes
        funcs[name.removeprefix("ggml_")] = fn
    cpu.ggml_cpu_init.restype, cpu.ggml_cpu_init.argtypes = None, []
    cpu.ggml_cpu_init()  # CPU feature detection and tables (ggml_graph_compute also calls it)
    return SimpleNamespace(**funcs)


def new_threadpool(threads: int) -> int:
    """A ggml threadpool of `threads` workers; free it with `ggml_api().threadpool_free`."""
    g = ggml_api()
    params = ThreadpoolParams()
    g.threadpool_params_init(ctypes.byref(params), threads)
    pool = g.threadpool_new(ctypes.byref(params))
    if not pool:
        raise RuntimeError("ggml_threadpool_new failed")
    return pool
