"""ONNX Runtime's InferenceSession on a decoder graph with a KV cache, driven step by step.

Each step binds the previous step's present key/values (ONNX Runtime's own OrtValues) as
the next step's past through I/O binding, so no KV tensor is copied to NumPy.
"""

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from enginebench.engines.base import (
    BatchGeneration,
    Engine,
    Generation,
    LoadedModel,
    MemoryModel,
    PrecisionClass,
)
from enginebench.engines.onnxruntime import export
from enginebench.hardware import cpu_flags
from enginebench.models.checkpoint import Checkpoint

_NOTES = {
    "fp16": "fp16 graph exported by the GenAI model builder for GPU providers",
    "int8": "onnxruntime.quantization.quantize_dynamic (int8 weights, dynamic int8 "
            "activations) of the fp32 graph",
    "int4": "MatMulNBits (4-bit symmetric weights, block 32, accuracy_level 4: int8 "
            "activations) of the fp32 graph",
}


REDUCE_RANGE = "reduce_range"
# x86 instructions that sum u8 x s8 products in 32 bits (no 16-bit intermediate to saturate)
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
X86_FLAGS = frozenset({"sse4_1", "avx", "avx2"})


def int8_reduce_range(flags: frozenset[str] | None = None) -> bool:
    """ONNX Runtime's documented int8 setting for this CPU (`flags`: this process's CPU
    when None): on x86 without VNNI its u8s8 kernels add pairs of u8 x s8 products in
    saturating 16-bit lanes (vpmaddubsw), so 8-bit weights can overflow; ONNX Runtime's
    quantization guide recommends `reduce_range` (7-bit weights) there. With VNNI, and on
    other architectures, the full 8 bits are used."""
    flags = cpu_flags() if flags is None else flags
    return bool(flags & X86_FLAGS) and not flags & VNNI_FLAGS


def int8_setting_note(reduce_range: bool) -> str:
    if reduce_range:
        return ("reduce_range: 7-bit weights, ONNX Runtime's setting for x86 CPUs without "
                "VNNI, whose u8s8 kernels can saturate 16-bit sums at 8 bits")
    return "full 8-bit weights (the CPU has VNNI or is not x86: no u8s8 saturation)"


@dataclass
class _Model:
    session: object
    device: str
    past: list[str]  # past input names; present output "present.N.x" matches "past_key_values.N.x"
    kv_shape: tuple[int, int]  # (kv heads, head size)
    kv_dtype: type


class OnnxRuntimeEngine(Engine):
    name = "onnxruntime"
    modules = ("onnxruntime", "onnxruntime_genai", "onnx")
    packages = ("onnxruntime", "onnxruntime-genai", "onnx")
    install = "pip install 'enginebench[onnxruntime]'"
    precisions: ClassVar[dict[str, PrecisionClass]] = {
        "fp32": "fp32", "fp16": "fp16", "int8": "int8", "int4": "int4"}
    devices = ("cpu", "cuda")
    # the exported graph takes a batch: [B, P] ids and mask, past key/values of batch B
    no_batch = None
    honours = frozenset({"rope_type:llama3", "head_dim", "tie_word_embeddings",
                         "attention_bias", "mlp_bias"})
    converts = True
    # session creation peaks (SmolLM2-135M): fp32 1.4x the graph, int8/int4 ~1.2 bytes/param
    # at 7B shape (fp32 embeddings), fp16 above fp32 (the CPU provider casts to fp32); past
    # and present KV both alive per step. Converting: the builder maps the checkpoint
    # (RSS 1.5x it, its pages included), then quantize_dynamic / MatMulNBitsQuantizer load
    # the whole fp32 graph: measured 12.8 (int8) and 6.0 (int4) bytes/param
    memory = MemoryModel(weights={"fp32": 5.6, "fp16": 6.0, "int8": 1.2, "int4": 1.2},
                         kv={"fp32": 8.0, "fp16": 4.0, "int8": 8.0, "int4": 8.0},
                         overhead_bytes=0.3e9, convert_overhead_bytes=1.2e9,
                         convert={"fp32": (0.5, 0.0), "fp16": (0.5, 0.0),
                                  "int8": (0.0, 13.0), "int4": (0.0, 6.0)})

    @classmethod
    def artifact_key(cls, precision: str) -> str:
        return REDUCE_RANGE if precision == "int8" and int8_reduce_range() else ""

    def build_info(self) -> dict:
        import onnxruntime as ort

        return {"packages": self.package_versions(),
                "providers": ort.get_available_providers(),
                "device": ort.get_device()}

    def prepare(self, ckpt: Checkpoint, precision: str, out_dir: Path) -> None:
        if precision in ("fp32", "fp16"):
            provider = "cpu" if precision == "fp32" else "cuda"
            export.build(ckpt.path, out_dir, precision, provider)
            return
        base = out_dir.with_name(out_dir.name + ".fp32")
        shutil.rmtree(base, ignore_errors=True)
        try:
            export.build(ckpt.path, base, "fp32")
            out_dir.mkdir(parents=True, exist_ok=True)
            if precision == "int8":
                export.quantize_int8(base / export.MODEL, out_dir / export.MODEL,
                                          int8_reduce_range())
            else:
                export.quantize_int4(base / export.MODEL, out_dir / export.MODEL)
        finally:
            shutil.rmtree(base, ignore_errors=True)

    def load(self, ckpt: Checkpoint, artifact: Path, precision: str, device: str,
             threads: int, context: int) -> LoadedModel:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        providers = ["CUDAExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
        session = ort.InferenceSession(str(artifact / export.MODEL), opts,
                                       providers=providers)
        past = [i for i in session.get_inputs() if i.name.startswith("past_key_values.")]
        dtype = np.float16 if past[0].type == "tensor(float16)" else np.float32
        kv_shape = (ckpt.config.num_kv_heads, ckpt.config.head_dim)
        handle = _Model(session, device, [p.name for p in past], kv_shape, dtype)
        notes = [_NOTES[precision]] if precision in _NOTES else []
        if precision == "int8":
            notes.append(int8_setting_note(int8_reduce_range()))
        return LoadedModel(handle, notes)

    def generate(self, model: LoadedModel, prompt_ids: list[int], new_tokens: int
                 ) -> Generation:
        batch = self.generate_batch(model, [prompt_ids], new_tokens)
        return Generation(batch.ids[0], batch.times)

    def generate_batch(self, model: LoadedModel, prompts: list[list[int]], new_tokens: int
                       ) -> BatchGeneration:
        import onnxruntime as ort

        m: _Model = model.handle
        n = len(prompts)
        binding = m.session.io_binding()
        empty = np.zeros((n, *m.kv_shape[:1], 0, m.kv_shape[1]), m.kv_dtype)
        past = {name: ort.OrtValue.ortvalue_from_numpy(empty) for name in m.past}
        outputs = [o.name for o in m.session.get_outputs()]
        ids: list[list[int]] = [[] for _ in prompts]
        times: list[float] = []
        step_ids = np.array(prompts, dtype=np.int64)
        total = len(prompts[0])
        for _ in range(new_tokens):
            binding.bind_cpu_input("input_ids", step_ids)
            binding.bind_cpu_input("attention_mask", np.ones((n, total), np.int64))
            for name, value in past.items():
                binding.bind_ortvalue_input(name, value)
            for name in outputs:
                binding.bind_output(name, m.device)
            m.session.run_with_iobinding(binding)
            values = dict(zip(outputs, binding.get_outputs(), strict=True))
            tokens = values["logits"].numpy()[:, -1].argmax(-1)
            for seq, token in zip(ids, tokens.tolist(), strict=True):
                seq.append(int(token))
            times.append(time.perf_counter())
            past = {name: values[name.replace("past_key_values.", "present.")]
                    for name in m.past}
            step_ids = tokens.astype(np.int64).reshape(n, 1)
            total += 1
        return BatchGeneration(ids, times)

    def logits(self, model: LoadedModel, ids: list[int]) -> np.ndarray:
        m: _Model = model.handle
        empty = np.zeros((1, m.kv_shape[0], 0, m.kv_shape[1]), m.kv_dtype)
        feeds = {"input_ids": np.array([ids], np.int64),
                 "attention_mask": np.ones((1, len(ids)), np.int64),
                 **{name: empty for name in m.past}}
        (logits,) = m.session.run(["logits"], feeds)
        return logits[0].astype(np.float32)
