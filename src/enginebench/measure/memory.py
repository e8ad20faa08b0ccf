"""Whether a cell fits in this machine's memory, estimated before it converts or loads, so a
cell too big for the machine is recorded `unsupported` instead of being killed out of memory.

The estimate comes from the engine's `MemoryModel` (engines/base.py, set in each adapter)
and the checkpoint's shape: weights at the cell's precision, the KV cache for `context`
tokens, the logits of the quality pass, and the engine's fixed overhead; and, when the
artifact is not cached yet, the conversion's peak. The conversion runs in a process of its
own before the cell's, so the cell needs the larger of the two, not their sum.

Figures are upper-ish peaks of resident memory (`peak_rss_mb` in the results), with one
exception: the pages of a checkpoint that a loader or converter maps and reads through once
are not counted. They are clean file pages, which the kernel drops under pressure instead of
killing the process (they can be the checkpoint's whole size: counting them would refuse
CTranslate2's int8 conversion of a 7B model on 24 GiB, which fits). Files an engine keeps
reading while it runs (llama.cpp's mapped GGUF) count. GB in messages are 10^9 bytes.
"""

from dataclasses import dataclass

import psutil

from enginebench.engines.base import Engine
from enginebench.models.checkpoint import Checkpoint

GB = 1e9
# The share of the machine's memory a cell may plan on. The rest is for the kernel, the
# suite's own process (Python, NumPy, the reference's arrays) and the estimate's error: on
# a 24 GiB machine, 2.6 GB.
USABLE_SHARE = 0.9
# float32 logits rows held at once by the quality pass: the engine's output, the harness's
# float32 copy, and the reference's
LOGITS_COPIES = 3
# bytes per value of a checkpoint's storage dtype (absent from config.json: float32)
_DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}


@dataclass(frozen=True)
class Estimate:
    """The bytes a cell needs, in named parts."""

    precision_class: str
    weight_bytes_per_param: float
    weights_bytes: float
    kv_bytes: float
    logits_bytes: float
    overhead_bytes: float
    # the converter process's peak, its own overhead included; 0 when nothing is converted
    conversion_bytes: float = 0.0

    @property
    def run_bytes(self) -> float:
        """The cell process's peak (loading and running)."""
        return self.weights_bytes + self.kv_bytes + self.logits_bytes + self.overhead_bytes

    @property
    def total_bytes(self) -> float:
        return max(self.run_bytes, self.conversion_bytes)

    def breakdown(self) -> str:
        run = (f"{self.precision_class} weights {_gb(self.weights_bytes)} at "
               f"{self.weight_bytes_per_param:g} bytes/param + KV cache "
               f"{_gb(self.kv_bytes)} + logits {_gb(self.logits_bytes)} + engine "
               f"{_gb(self.overhead_bytes)}")
        if not self.conversion_bytes:
            return run
        return (f"conversion peak {_gb(self.conversion_bytes)} in its own process first; "
                f"then {run}")


def _gb(n: float) -> str:
    gb = n / GB
    return f"{gb:.1f} GB" if gb >= 0.95 else f"{gb:.2g} GB"


def machine_bytes() -> int:
    """This machine's total memory."""
    return psutil.virtual_memory().total


def checkpoint_bytes(ckpt: Checkpoint) -> float:
    """The checkpoint's weights at their storage dtype (its size on disk, without reading
    the disk: the preset may not be generated yet)."""
    return ckpt.params * _DTYPE_BYTES.get(ckpt.config.dtype or "float32", 4)


def estimate(engine: type[Engine], ckpt: Checkpoint, precision: str, context: int,
             needs_conversion: bool, batch: int = 1) -> Estimate:
    """What a cell of `engine` at `precision` needs for `batch` sequences of `context`
    tokens; `needs_conversion`: the artifact is not cached, so the converter runs first."""
    mem, pclass, c = engine.memory, engine.precisions[precision], ckpt.config
    per_param = mem.weight_bytes(pclass)
    conversion = 0.0
    if needs_conversion and engine.needs_artifact(precision):
        of_ckpt, written = mem.convert_peak(pclass)
        conversion = (of_ckpt * checkpoint_bytes(ckpt) + written * ckpt.params
                      + mem.convert_overhead_bytes)
    return Estimate(
        precision_class=pclass,
        weight_bytes_per_param=per_param,
        weights_bytes=ckpt.params * per_param,
        kv_bytes=batch * 2 * c.num_layers * c.num_kv_heads * c.head_dim * context
        * mem.kv_bytes(pclass),
        logits_bytes=LOGITS_COPIES * context * c.vocab_size * 4,
        overhead_bytes=mem.overhead_bytes,
        conversion_bytes=conversion)


def refusal(engine: type[Engine], ckpt: Checkpoint, precision: str, context: int,
            needs_conversion: bool, device: str = "cpu", batch: int = 1) -> str | None:
    """Why the cell cannot fit in this machine's memory; None when it can. Only CPU cells
    are estimated: on an accelerator the weights and KV cache live in device memory,
    which these figures do not model."""
    if device != "cpu":
        return None
    est = estimate(engine, ckpt, precision, context, needs_conversion, batch)
    have = machine_bytes()
    if est.total_bytes <= USABLE_SHARE * have:
        return None
    return (f"needs ~{_gb(est.total_bytes)} ({est.breakdown()}), this machine has "
            f"{_gb(have)} (a cell may plan on {USABLE_SHARE:.0%} of it)")
