"""What a cell's peak RSS figure includes: the column's definition, and the footnote for a
cell whose peak is well above its weights file.

How the figure is taken (measure/child.py, measure/isolate.py): the high-water mark
(`VmHWM`) of the child process that loaded the model and generated, or of the engine's
runner process where it has one and that is higher (the larger of the two, not their sum),
read before the quality pass. Conversion and quantization run in a child of their own
first, the fp32 reference in another; neither is in it. `VmHWM` counts file pages mapped
into the process as well as its own memory: a GGUF or safetensors file that the engine
maps and touches counts in full, and so does any copy of the weights it makes at load.
The figure is in MiB (kB / 1024), labelled MB on the pages.
"""

from enginebench.results.schema import Cell

MIB = 2**20

PEAK_RSS_DEFINITION = (
    "the highest resident memory of the process that loaded the model and generated (or "
    "of the engine's runner process, if higher), before the quality pass: the weights "
    "file's pages it mapped or read, any copy of the weights the engine made at load, the "
    "KV cache, buffers and runtime; conversion, the fp32 reference and the quality pass "
    "run elsewhere and are not in it; in MiB")

# a peak at least this many times the weights file, and this much above it, is explained
# (below this, a runtime of 1-2 GB, like torch's, accounts for it)
RATIO = 1.5
EXCESS_MIB = 2048

# llama.cpp's CPU backend repacks these into interleaved blocks at load (ggml-cpu repack)
_REPACKED = {"q4_0", "q4_k_m"}


def _repacked(c: Cell) -> bool:
    """A llama.cpp cell whose CPU build repacks its quantized weights at load."""
    info = str(c.build.get("system_info", ""))
    return (c.engine == "llamacpp" and c.device == "cpu" and c.precision in _REPACKED
            and "REPACK = 1" in info)


def peak_rss_notes(c: Cell) -> list[str]:
    """The footnote explaining a ran cell's peak RSS when it is well above the weights file
    (at least RATIO times and EXCESS_MIB more); empty otherwise or when the file size was
    not recorded."""
    rss, size = c.metrics.peak_rss_mb, c.metrics.artifact_bytes
    if c.status != "ok" or rss is None or not size:
        return []
    file_mib = size / MIB
    if rss < RATIO * file_mib or rss - file_mib < EXCESS_MIB:
        return []
    head = f"peak RSS {rss:,.0f} MiB is {rss / file_mib:.1f}x the {file_mib:,.0f} MiB weights file"
    if _repacked(c):
        why = ("llama.cpp's CPU backend (REPACK = 1) copies the 4-bit matmul weights into a "
               "buffer of its own at load, and the mapped GGUF pages it read them from stay "
               "counted (clean page cache the kernel can drop), so those weights count twice")
    else:
        why = ("it counts the file's pages the engine mapped or read plus any copy of the "
               "weights it made at load, the KV cache, buffers and runtime")
    return [f"{head}: {why}. Not in it: conversion, the fp32 reference, the quality pass."]
