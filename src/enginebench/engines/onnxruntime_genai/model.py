"""ONNX Runtime GenAI: its model builder's graph and its own generator loop."""

import json
import time
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
from enginebench.models.checkpoint import Checkpoint

# GenAI stops at its EOS unless the length is forced: min_length masks EOS until then
_EOS_NOTE = "exactly N tokens through min_length = max_length (GenAI masks EOS until then)"


class OnnxRuntimeGenAIEngine(Engine):
    name = "onnxruntime-genai"
    modules = ("onnxruntime_genai",)
    packages = ("onnxruntime-genai", "onnxruntime")
    install = "pip install 'enginebench[onnxruntime]'"
    no_ops = ("ONNX Runtime GenAI runs whole generation loops; a single op is plain ONNX "
              "Runtime, which the onnxruntime row measures")
    # the builder's own precisions that its CPU provider runs
    precisions: ClassVar[dict[str, PrecisionClass]] = {
        "fp32": "fp32", "int8": "int8", "int4": "int4"}
    devices = ("cpu", "cuda")
    # GeneratorParams' batch_size: the prompts go in as one [B, P] array, and every
    # generate_next_token is one step of all B sequences
    no_batch = None
    honours = frozenset({"rope_type:llama3", "head_dim", "tie_word_embeddings",
                         "attention_bias", "mlp_bias"})
    converts = True
    # as onnxruntime's session (fp32 KV cache on CPU, past and present); the builder
    # materializes the fp32 graph to quantize it: RSS peaks on SmolLM2-135M 1.2x the fp16
    # checkpoint (its pages included) plus 6.0 (int8) and 4.6 (int4) bytes/param, 1.5x fp32
    memory = MemoryModel(weights={"fp32": 5.6, "int8": 1.2, "int4": 1.2},
                         kv=dict.fromkeys(("fp32", "int8", "int4"), 8.0),
                         overhead_bytes=0.3e9, convert_overhead_bytes=1.2e9,
                         convert={"fp32": (0.5, 0.0), "int8": (0.2, 6.0), "int4": (0.2, 4.6)})

    def build_info(self) -> dict:
        return {"packages": self.package_versions()}

    def prepare(self, ckpt: Checkpoint, precision: str, out_dir: Path) -> None:
        extra = {"int4_block_size": "32"} if precision == "int4" else None
        export.build(ckpt.path, out_dir, precision, "cpu", extra)

    def load(self, ckpt: Checkpoint, artifact: Path, precision: str, device: str,
             threads: int, context: int) -> LoadedModel:
        import onnxruntime_genai as og

        config = og.Config(str(artifact))
        config.clear_providers()
        if device == "cuda":
            config.append_provider("cuda")
        session = {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
        config.overlay(json.dumps({"model": {"decoder": {"session_options": session}}}))
        return LoadedModel(og.Model(config), [_EOS_NOTE])

    def _generator(self, model: LoadedModel, length: int, batch: int = 1) -> object:
        import onnxruntime_genai as og

        params = og.GeneratorParams(model.handle)
        params.set_search_options(max_length=length, min_length=length, do_sample=False,
                                  batch_size=batch)
        return og.Generator(model.handle, params)

    def generate(self, model: LoadedModel, prompt_ids: list[int], new_tokens: int
                 ) -> Generation:
        gen = self._generator(model, len(prompt_ids) + new_tokens)
        gen.append_tokens(prompt_ids)
        ids: list[int] = []
        times: list[float] = []
        for _ in range(new_tokens):
            gen.generate_next_token()
            ids.append(int(gen.get_next_tokens()[0]))
            times.append(time.perf_counter())
        return Generation(ids, times)

    def generate_batch(self, model: LoadedModel, prompts: list[list[int]], new_tokens: int
                       ) -> BatchGeneration:
        gen = self._generator(model, len(prompts[0]) + new_tokens, len(prompts))
        gen.append_tokens(np.asarray(prompts, dtype=np.int32))
        ids: list[list[int]] = [[] for _ in prompts]
        times: list[float] = []
        for _ in range(new_tokens):
            gen.generate_next_token()
            for seq, token in zip(ids, gen.get_next_tokens().tolist(), strict=True):
                seq.append(int(token))
            times.append(time.perf_counter())
        return BatchGeneration(ids, times)

    def logits(self, model: LoadedModel, ids: list[int]) -> np.ndarray:
        gen = self._generator(model, len(ids))
        gen.append_tokens(ids)
        return np.asarray(gen.get_output("logits"), dtype=np.float32)[0]
