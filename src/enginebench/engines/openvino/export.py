"""The checkpoint as an OpenVINO IR with a KV cache, exported by optimum-intel.

`optimum-cli export openvino --task text-generation-with-past` writes a stateful model (the
KV cache lives in the infer request's state; inputs input_ids, attention_mask, position_ids,
beam_idx; output logits), the tokenizer and detokenizer as OpenVINO models (what GenAI's
LLMPipeline reads), and, for int8/int4, weights compressed by NNCF at export.

optimum-intel runs in a venv of its own inside this one (scripts/install_openvino_export.sh):
it supports only transformers < 5.6, older than the one the other engines run on.
"""

import json
import sys
from collections import Counter
from pathlib import Path

from enginebench.engines.tool import run_tool

MODEL = "openvino_model.xml"
# optimum-intel's --weight-format per precision class; bf16 runs the fp32 IR at a bf16
# inference precision (an fp16 IR would round the weights twice)
WEIGHT_FORMAT = {"fp32": "fp32", "fp16": "fp16", "bf16": "fp32", "int8": "int8",
                 "int4": "int4"}
# int4 as optimum-intel's defaults for a model it has no tuned config for, stated
# explicitly: asymmetric, groups of 128, every ratio-defining layer at 4 bits (embeddings
# and lm_head stay int8_asym, NNCF's backup precision); a layer whose input width 128 does
# not divide (SmolLM2's 576) gets the largest group that does (`adjust`; optimum-intel's
# default is to fail), and WEIGHTS records the groups the IR holds
INT4_ARGS = ("--group-size", "128", "--ratio", "1.0", "--group-size-fallback", "adjust")
WEIGHTS = "weights.json"


def exporter() -> Path:
    """The exporter venv's interpreter (it may be absent: `available` says so)."""
    return Path(sys.prefix) / "openvino-export" / "bin" / "python"


def export_command(checkpoint: Path, out_dir: Path, precision_class: str) -> list[str]:
    cmd = [str(exporter()), "-m", "optimum.commands.optimum_cli", "export", "openvino",
           "--model", str(checkpoint), "--task", "text-generation-with-past",
           "--weight-format", WEIGHT_FORMAT[precision_class]]
    if precision_class == "int4":
        cmd += INT4_ARGS
    return [*cmd, str(out_dir)]


def export(checkpoint: Path, out_dir: Path, precision_class: str) -> None:
    if not exporter().exists():
        raise RuntimeError(f"the OpenVINO exporter is not installed ({exporter()} is "
                           "missing): run `bash scripts/install_openvino_export.sh`")
    cmd = export_command(checkpoint, out_dir, precision_class)
    run_tool(cmd, f"OpenVINO export (--weight-format {WEIGHT_FORMAT[precision_class]})",
             out_dir / MODEL)
    (out_dir / WEIGHTS).write_text(json.dumps(weight_formats(out_dir / MODEL), indent=1))


def weight_formats(xml: Path) -> dict[str, int]:
    """How many weight matrices the IR holds in each format, read off its constants
    (zero points and scales, whose last dimension is 1, are not weights)."""
    import openvino as ov

    counts: Counter[str] = Counter()
    for op in ov.Core().read_model(xml).get_ordered_ops():
        if op.get_type_name() != "Constant":
            continue
        shape, kind = list(op.get_shape()), op.get_element_type().get_type_name()
        if len(shape) < 2 or shape[-1] == 1:
            continue
        if len(shape) == 3 and kind in ("u4", "i4", "u8", "i8"):
            counts[f"{kind} in groups of {shape[-1]}"] += 1
        elif kind in ("u4", "i4", "u8", "i8"):
            counts[f"{kind} per output channel"] += 1
        elif len(shape) == 2:
            counts[kind] += 1
    return dict(sorted(counts.items()))


def weights_note(artifact: Path) -> str | None:
    """The IR's weight formats as one note (None for an artifact without the record)."""
    path = artifact / WEIGHTS
    if not path.exists():
        return None
    counts = json.loads(path.read_text())
    return "weight matrices in the IR: " + ", ".join(f"{n} {k}" for k, n in counts.items())
