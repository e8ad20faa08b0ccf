"""What the OpenVINO CPU plugin is asked for and what it reports back, shared by the model
and op faces: the properties a cell compiles with, and the check that the plugin runs the
precision the cell names (on a CPU without bf16 or fp16 arithmetic it silently runs f32).

Every cell pins the inference precision: the plugin's default is bf16 on CPUs with AVX512-BF16
or AMX and f32 elsewhere, so an unpinned fp32 cell would compute in bf16 on some machines.
"""

import functools

from enginebench.engines.base import Unsupported

# inference precision per precision class; int8/int4 are weight compression, their
# activations f32 (with the plugin's dynamic int8 quantization per group, its default)
HINT = {"fp32": "f32", "fp16": "f16", "bf16": "bf16", "int8": "f32", "int4": "f32"}
# OPTIMIZATION_CAPABILITIES a hint needs; a CPU without it runs that hint as f32
CAPABILITY = {"f16": "FP16", "bf16": "BF16"}
_NEEDS = {"f16": "AVX512-FP16 or AMX-FP16", "bf16": "AVX512-BF16 or AMX"}
# the KV cache at a float cell's own precision; None: the plugin's default (u8 on x86)
KV_CACHE = {"fp32": "f32", "fp16": "f16", "bf16": "bf16", "int8": None, "int4": None}


def properties(precision_class: str, threads: int, kv_cache: bool = False) -> dict:
    """The CPU plugin's compile properties for a cell: one stream, latency mode, `threads`
    inference threads, the inference precision pinned (and the KV cache's, for models)."""
    props = {"INFERENCE_PRECISION_HINT": HINT[precision_class],
             "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1,
             "PERFORMANCE_HINT": "LATENCY"}
    kv = KV_CACHE[precision_class]
    if kv_cache and kv:
        props["KV_CACHE_PRECISION"] = kv
    return props


@functools.cache
def capability_problem(precision_class: str) -> str | None:
    """Why the CPU plugin cannot run this precision class's arithmetic here, before any
    conversion (None when it can)."""
    import openvino as ov

    need = CAPABILITY.get(HINT[precision_class])
    if need is None:
        return None
    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    if need in caps:
        return None
    hint = HINT[precision_class]
    return (f"OpenVINO's CPU plugin computes {hint} only on CPUs with {need} capability "
            f"({_NEEDS[hint]}); this CPU reports {', '.join(caps)}, and the plugin would "
            "silently run the cell at f32")


def model_problem(precision_class: str, threads: int) -> str | None:
    """Why the CPU plugin cannot compile a whole LLM for this cell (None when it can).

    OpenVINO 2026.4 dies of SIGFPE compiling an exported Llama at bf16 with one inference
    thread (every shape tried, 64 to 512 wide, on an AMX Xeon; two threads compile, and so
    do one-op models), so such a cell is refused instead of crashing."""
    import openvino as ov

    version = ov.get_version()
    if HINT[precision_class] == "bf16" and threads == 1 and version.startswith("2026.4."):
        return (f"OpenVINO {version.split('-')[0]}'s CPU plugin crashes (SIGFPE) compiling "
                "an LLM at bf16 with INFERENCE_NUM_THREADS=1; run it with --threads 2 or more")
    return None


def reported(compiled: object) -> dict[str, str]:
    """The properties the compiled model reports back (what ran, not what was asked)."""
    out = {}
    for name in ("INFERENCE_PRECISION_HINT", "KV_CACHE_PRECISION", "INFERENCE_NUM_THREADS",
                 "NUM_STREAMS", "PERFORMANCE_HINT", "DYNAMIC_QUANTIZATION_GROUP_SIZE",
                 "EXECUTION_DEVICES"):
        try:
            out[name] = str(compiled.get_property(name))
        except RuntimeError:
            continue
    return out


_TYPE_NAMES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}


def check_precision(compiled: object, precision_class: str) -> None:
    """Raise Unsupported when the compiled model runs at another precision than asked."""
    want = _TYPE_NAMES[HINT[precision_class]]
    got = str(compiled.get_property("INFERENCE_PRECISION_HINT"))
    if want not in got:
        raise Unsupported(f"OpenVINO's CPU plugin compiled the {precision_class} cell at "
                          f"{got}, not {want}: this CPU has no {want} arithmetic")
