"""MLX through mlx-lm: mlx-lm's own Llama (`mlx_lm.utils.load_model`) on the checkpoint's
safetensors, on MLX's CPU device (`mlx[cpu]` on Linux) or Metal (Apple silicon).

fp32, fp16 and bf16 cast the weights with `set_dtype`; q8 and q4 are mlx-lm's own
quantization (`quantize_model`: affine, mlx-lm's default group of 64, as `mlx_lm.convert -q`
makes them), the other parameters kept at the checkpoint's dtype as `convert` keeps them.

MLX is lazy: nothing is computed until an array is evaluated. Each token's timestamp is
taken after its id has been read back (`.item()` evaluates the step), and each step starts
after the previous one has finished (mlx-lm's own generate overlaps the next step with
`async_eval`, which moves time between tokens rather than saving it).
"""

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
    Unsupported,
)
from enginebench.models.checkpoint import Checkpoint
from enginebench.models.config import ModelConfig

# mlx-lm's defaults for `mlx_lm.convert -q`: affine, group 64
GROUP_SIZE = 64
# bits per weight of mlx quantization, by precision class
BITS = {"int8": 8, "int4": 4}
_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def blas_library() -> str | None:
    """The BLAS the installed MLX CPU build links (the mlx-cpu wheel bundles one on Linux)."""
    import mlx

    root = Path(next(iter(mlx.__path__))).resolve().parent
    found = sorted(p.name for d in root.glob("mlx*.libs") for p in d.glob("*blas*"))
    return found[0] if found else None


def mlx_config(cfg: ModelConfig) -> dict:
    """The checkpoint's config as the harness's reader normalized it, in the names mlx-lm's
    Llama reads, laid over config.json: mlx-lm reads `rope_theta` and `rope_scaling` at the
    top level only, so a transformers 5 config (both inside `rope_parameters`) would
    otherwise run at its default theta of 10000."""
    scaling = {"rope_type": cfg.rope_type, **cfg.rope_scaling} \
        if cfg.rope_type != "default" else None
    return {"hidden_size": cfg.hidden_size, "intermediate_size": cfg.intermediate_size,
            "num_hidden_layers": cfg.num_layers, "num_attention_heads": cfg.num_heads,
            "num_key_value_heads": cfg.num_kv_heads, "head_dim": cfg.head_dim,
            "vocab_size": cfg.vocab_size, "rms_norm_eps": cfg.rms_norm_eps,
            "max_position_embeddings": cfg.max_position_embeddings,
            "rope_theta": cfg.rope_theta, "rope_scaling": scaling,
            "attention_bias": cfg.attention_bias, "mlp_bias": cfg.mlp_bias,
            "tie_word_embeddings": cfg.tie_word_embeddings}


def select_device(device: str) -> str:
    """Make `device` MLX's default; the name MLX gives it."""
    import mlx.core as mx

    if device == "metal":
        if not mx.metal.is_available():
            raise Unsupported("device metal requested but MLX has no Metal device here "
                              "(Apple silicon with the mlx Metal build)")
        mx.set_default_device(mx.gpu)
    else:
        mx.set_default_device(mx.cpu)
    return str(mx.default_device())


class MlxEngine(Engine):
    name = "mlx"
    modules = ("mlx.core", "mlx_lm")
    packages = ("mlx", "mlx-lm", "mlx-cpu", "mlx-metal")
    install = "pip install 'enginebench[mlx]'"
    precisions: ClassVar[dict[str, PrecisionClass]] = {
        "fp32": "fp32", "fp16": "fp16", "bf16": "bf16", "q8": "int8", "q4": "int4",
    }
    devices = ("cpu", "metal")
    # mlx-lm's models take a [B, P] batch over one prompt cache
    no_batch = None
    # mlx-lm's Llama: head_dim, tied embeddings, biases, llama3 and linear rope scaling
    honours = frozenset({"head_dim", "tie_word_embeddings", "attention_bias", "mlp_bias",
                         "rope_type:llama3", "rope_type:linear"})
    # loaded lazily at the checkpoint's dtype, then cast or quantized as it is evaluated;
    # q8/q4 hold a scale and a bias per group of 64
    memory = MemoryModel(weights={"int8": 1.3, "int4": 0.8}, kv={"fp32": 4.0},
                         overhead_bytes=0.6e9)

    def build_info(self) -> dict:
        import mlx.core as mx

        return {"packages": self.package_versions(), "device": str(mx.default_device()),
                "blas": blas_library(), "group_size": GROUP_SIZE}

    def load(self, ckpt: Checkpoint, artifact: Path, precision: str, device: str,
             threads: int, context: int) -> LoadedModel:
        import mlx.core as mx
        from mlx_lm.utils import load_model, quantize_model

        name = select_device(device)
        model, config = load_model(Path(artifact), lazy=True,
                                   model_config=mlx_config(ckpt.config))
        notes = [f"mlx-lm {self.package_versions()['mlx-lm']} Llama on {name}"]
        bits = BITS.get(self.precisions[precision])
        if bits:
            model, _ = quantize_model(model, config, group_size=GROUP_SIZE, bits=bits)
            notes.append(f"mlx-lm quantize_model: affine, {bits} bits, group "
                         f"{GROUP_SIZE} (mlx_lm.convert's default), embeddings included; "
                         f"other parameters at the checkpoint's {ckpt.config.dtype}")
        else:
            model.set_dtype(getattr(mx, _DTYPES[precision]))
        mx.eval(model.parameters())
        if device == "cpu":
            notes.append(f"MLX's CPU device takes no thread count (--threads {threads} is "
                         f"not passed on); its matmuls call the bundled {blas_library()}")
        return LoadedModel(model, notes)

    def generate(self, model: LoadedModel, prompt_ids: list[int], new_tokens: int
                 ) -> Generation:
        batch = self.generate_batch(model, [prompt_ids], new_tokens)
        return Generation(batch.ids[0], batch.times)

    def generate_batch(self, model: LoadedModel, prompts: list[list[int]], new_tokens: int
                       ) -> BatchGeneration:
        import mlx.core as mx
        from mlx_lm.models.cache import make_prompt_cache

        net = model.handle
        cache = make_prompt_cache(net)
        ids: list[list[int]] = [[] for _ in prompts]
        times: list[float] = []
        logits = net(mx.array(prompts), cache=cache)
        for step in range(new_tokens):
            tokens = mx.argmax(logits[:, -1], axis=-1)
            # tolist() evaluates the step: its tokens exist now
            for seq, token in zip(ids, tokens.tolist(), strict=True):
                seq.append(token)
            times.append(time.perf_counter())
            if step + 1 < new_tokens:
                logits = net(tokens.reshape(-1, 1), cache=cache)
        return BatchGeneration(ids, times)

    def logits(self, model: LoadedModel, ids: list[int]) -> np.ndarray:
        import mlx.core as mx

        return np.array(model.handle(mx.array([ids]))[0].astype(mx.float32))

    def peak_device_mb(self, model: LoadedModel) -> float | None:
        import mlx.core as mx

        if mx.default_device() != mx.gpu:
            return None
        return mx.get_peak_memory() / 2**20
