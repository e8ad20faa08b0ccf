"""CTranslate2's Generator on a model converted by its own TransformersConverter."""

import json
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
    Unsupported,
)
from enginebench.models.checkpoint import Checkpoint


@dataclass
class _Model:
    generator: object
    tokens: list[str]  # the converted model's vocabulary: id -> token string


class CTranslate2Engine(Engine):
    name = "ctranslate2"
    modules = ("ctranslate2",)
    packages = ("ctranslate2",)
    install = "pip install 'enginebench[ctranslate2]'"
    no_ops = ("CTranslate2's Python API runs whole models (Generator, Translator, Encoder); "
              "its operators are internal C++ with no binding")
    # compute types; weights are stored at the same type by the converter
    precisions: ClassVar[dict[str, PrecisionClass]] = {
        "float32": "fp32", "float16": "fp16", "bfloat16": "bf16",
        "int8_float32": "int8", "int8": "int8", "int8_float16": "int8",
        "int8_bfloat16": "int8",
    }
    devices = ("cpu", "cuda")
    # generate_tokens takes a batch: equal-length prompts are forwarded at once, then one
    # decoder call per step for all sequences
    no_batch = None
    # not llama3 rope (its logits differ from transformers' by 2.3e-3 of the largest on the
    # config tests' checkpoint; the converter drops original_max_position_embeddings), not a
    # head_dim other than hidden/heads (the converter fails on it)
    honours = frozenset({"tie_word_embeddings", "attention_bias", "mlp_bias"})
    converts = True
    # loading reads the artifact into memory (measured on SmolLM2-135M: 1.0x its bytes); KV
    # cache fp32 at float32 and int8 (int8_float32 on CPU). The converter maps the
    # checkpoint through transformers and casts or quantizes tensor by tensor: RSS peaks
    # measured 1.6x the fp16 checkpoint (1.0x its pages, read through) plus what it writes
    memory = MemoryModel(kv={"fp32": 4.0, "int8": 4.0}, overhead_bytes=0.3e9,
                         convert={"fp32": (0.6, 4.0), "fp16": (0.6, 0.0),
                                  "bf16": (0.6, 2.0), "int8": (0.6, 1.0)})

    def build_info(self) -> dict:
        import ctranslate2

        return {
            "packages": self.package_versions(),
            "cpu_compute_types": sorted(ctranslate2.get_supported_compute_types("cpu")),
            "cuda_devices": ctranslate2.get_cuda_device_count(),
        }

    @classmethod
    def device_problem(cls, precision: str, device: str) -> str | None:
        """The compute types CTranslate2 reports for this device, asked before a conversion
        (a 7B float16 conversion takes minutes and 13 GB only to be refused at load)."""
        import ctranslate2

        try:
            types = ctranslate2.get_supported_compute_types(device)
        except (RuntimeError, ValueError):
            return None  # no such device here: the load says why
        if precision in types:
            return None
        return (f"ctranslate2 {ctranslate2.__version__} supports on this {device} only the "
                f"compute types {', '.join(sorted(types))}, not {precision}")

    def prepare(self, ckpt: Checkpoint, precision: str, out_dir: Path) -> None:
        from ctranslate2.converters import TransformersConverter

        TransformersConverter(str(ckpt.path), low_cpu_mem_usage=True).convert(
            str(out_dir), quantization=precision, force=True)

    def load(self, ckpt: Checkpoint, artifact: Path, precision: str, device: str,
             threads: int, context: int) -> LoadedModel:
        import ctranslate2

        try:
            generator = ctranslate2.Generator(str(artifact), device=device,
                                              compute_type=precision, intra_threads=threads,
                                              inter_threads=1)
        except ValueError as e:  # the engine's own words on what this machine cannot run
            raise Unsupported(str(e)) from e
        tokens = json.loads((artifact / "vocabulary.json").read_text())
        return LoadedModel(_Model(generator, tokens))

    def generate(self, model: LoadedModel, prompt_ids: list[int], new_tokens: int
                 ) -> Generation:
        m: _Model = model.handle
        prompt = [m.tokens[i] for i in prompt_ids]
        ids: list[int] = []
        times: list[float] = []
        steps = m.generator.generate_tokens(prompt, max_length=new_tokens, sampling_topk=1,
                                            end_token=[])
        for step in steps:
            times.append(time.perf_counter())
            ids.append(step.token_id)
        return Generation(ids, times)

    def generate_batch(self, model: LoadedModel, prompts: list[list[int]], new_tokens: int
                       ) -> BatchGeneration:
        """`generate_tokens` over the batch: one decoder call per step for every sequence,
        each step's token reported per sequence; a step is stamped at its last."""
        m: _Model = model.handle
        batch = [[m.tokens[i] for i in p] for p in prompts]
        ids: list[list[int]] = [[] for _ in prompts]
        times: list[float] = []
        steps = m.generator.generate_tokens(batch, max_length=new_tokens, sampling_topk=1,
                                            end_token=[])
        for step in steps:
            now = time.perf_counter()
            ids[step.batch_id].append(step.token_id)
            if step.step == len(times):
                times.append(now)
            else:
                times[step.step] = now
        return BatchGeneration(ids, times)

    def logits(self, model: LoadedModel, ids: list[int]) -> np.ndarray:
        m: _Model = model.handle
        out = m.generator.forward_batch([[m.tokens[i] for i in ids]])
        return np.array(out, dtype=np.float32)[0]
