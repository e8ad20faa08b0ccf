"""PyTorch through transformers' LlamaForCausalLM, with torchao weight quantization."""

import inspect
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

# native precision -> (compute dtype, torchao config name or None)
_RECIPES = {
    "fp32": ("float32", None),
    "fp16": ("float16", None),
    "bf16": ("bfloat16", None),
    "int8": ("float32", "int8_weight_only"),
    "int8_dynamic": ("float32", "int8_dynamic"),
    "int4": ("float32", "int4_weight_only"),
}
_NOTES = {
    "int8": "torchao Int8WeightOnlyConfig (per-row int8 weights, fp32 activations)",
    "int8_dynamic": "torchao Int8DynamicActivationInt8WeightConfig (int8 weights and "
                    "per-token dynamic int8 activations)",
    "int4": "torchao IntxWeightOnlyConfig(int4, group 32): 4-bit values stored unpacked "
            "in int8 on CPU (no packed int4 CPU kernel in torchao without mslk)",
}


def _torchao_config(kind: str, device: str) -> object:
    import torch
    import torchao.quantization as q
    from torchao.quantization.granularity import PerGroup

    if kind == "int8_weight_only":
        return q.Int8WeightOnlyConfig()
    if kind == "int8_dynamic":
        return q.Int8DynamicActivationInt8WeightConfig()
    if device == "cuda":  # tinygemm int4 kernel; wants bf16 weights (not verified on a GPU)
        return q.Int4WeightOnlyConfig(group_size=32, int4_packing_format="tile_packed_to_4d")
    return q.IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=PerGroup(32))


@dataclass
class _Model:
    net: object
    # transformers 5.x renamed `past_key_values` to `cache` (argument and output field)
    cache_arg: str


class TorchEngine(Engine):
    name = "torch"
    modules = ("torch", "transformers", "torchao")
    packages = ("torch", "transformers", "torchao")
    install = "pip install 'enginebench[torch]'"
    precisions: ClassVar[dict[str, PrecisionClass]] = {
        "fp32": "fp32", "fp16": "fp16", "bf16": "bf16",
        "int8": "int8", "int8_dynamic": "int8", "int4": "int4",
    }
    devices = ("cpu", "cuda")
    # transformers is the reference: it computes every field its Llama/Mistral classes read
    honours = frozenset({"rope_type:llama3", "rope_type:linear", "rope_type:dynamic",
                         "rope_type:yarn", "rope_type:longrope", "head_dim", "attention_bias",
                         "mlp_bias", "sliding_window", "tie_word_embeddings"})
    # fp32, int8 and int4 load the model in fp32 (_RECIPES) before torchao quantizes it (int4
    # unpacked in int8): RSS peaks on an fp16 SmolLM2-135M 5.1 (fp32) and 5.7 (int8)
    # bytes/param above the imports (torch, transformers, torchao: 0.95 GB), checkpoint pages
    # read through included; fp16 maps the checkpoint. KV cache at the compute dtype.
    memory = MemoryModel(weights={"fp32": 4.5, "int8": 5.0, "int4": 5.0},
                         kv={"fp32": 4.0, "int8": 4.0, "int4": 4.0}, overhead_bytes=1.0e9)
    # a batch is one [B, P] prefill and one [B, 1] forward per step over a shared KV cache
    # (the prompts are all P long: no padding, no attention mask)
    no_batch = None

    def build_info(self) -> dict:
        import torch

        return {
            "packages": self.package_versions(),
            "cuda": torch.version.cuda,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "mkldnn": torch.backends.mkldnn.is_available(),
            "openmp": torch.backends.openmp.is_available(),
            "threads": torch.get_num_threads(),
        }

    def load(self, ckpt: Checkpoint, artifact: Path, precision: str, device: str,
             threads: int, context: int) -> LoadedModel:
        import torch
        from transformers import LlamaForCausalLM, MistralForCausalLM

        if device == "cuda" and not torch.cuda.is_available():
            raise Unsupported("device cuda requested but torch sees no CUDA GPU")
        torch.set_num_threads(threads)
        dtype_name, quant = _RECIPES[precision]
        if quant == "int4_weight_only" and device == "cuda":
            dtype_name = "bfloat16"
        dtype = getattr(torch, dtype_name)
        cls = MistralForCausalLM if ckpt.config.model_type == "mistral" else \
            LlamaForCausalLM
        model = cls.from_pretrained(artifact, dtype=dtype).to(device).eval()
        if quant:
            from torchao.quantization import quantize_

            quantize_(model, _torchao_config(quant, device))
        notes = [_NOTES[precision]] if precision in _NOTES else []
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        params = inspect.signature(model.forward).parameters
        cache_arg = "cache" if "cache" in params else "past_key_values"
        return LoadedModel(_Model(model, cache_arg), notes)

    def generate(self, model: LoadedModel, prompt_ids: list[int], new_tokens: int
                 ) -> Generation:
        batch = self.generate_batch(model, [prompt_ids], new_tokens)
        return Generation(batch.ids[0], batch.times)

    def generate_batch(self, model: LoadedModel, prompts: list[list[int]], new_tokens: int
                       ) -> BatchGeneration:
        import torch

        net, cache_arg = model.handle.net, model.handle.cache_arg
        device = net.device
        ids: list[list[int]] = [[] for _ in prompts]
        times: list[float] = []
        with torch.inference_mode():
            inputs = torch.tensor(prompts, device=device)
            out = net(input_ids=inputs, use_cache=True, logits_to_keep=1)
            for step in range(new_tokens):
                tokens = out.logits[:, -1].argmax(-1)
                # tolist() waits for the device: the step's tokens exist now
                for seq, token in zip(ids, tokens.tolist(), strict=True):
                    seq.append(token)
                times.append(time.perf_counter())
                if step + 1 < new_tokens:
                    out = net(input_ids=tokens.view(-1, 1), use_cache=True,
                              logits_to_keep=1, **{cache_arg: getattr(out, cache_arg)})
        return BatchGeneration(ids, times)

    def logits(self, model: LoadedModel, ids: list[int]) -> np.ndarray:
        import torch

        net = model.handle.net
        with torch.inference_mode():
            out = net(input_ids=torch.tensor([ids], device=net.device), use_cache=False)
        return out.logits[0].float().cpu().numpy()

    def peak_device_mb(self, model: LoadedModel) -> float | None:
        import torch

        if model.handle.net.device.type != "cuda":
            return None
        return torch.cuda.max_memory_allocated() / 2**20
