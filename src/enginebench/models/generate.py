"""Write a preset as a Hugging Face Llama checkpoint with deterministic random weights.

Every tensor draws from its own generator seeded by (preset seed, tensor name), in fixed
row chunks, so the bytes are the same on every run and machine, and shards are streamed to
disk one tensor chunk at a time: a 7B shape is written with a few hundred MB of memory.
"""

import hashlib
import json
import math
import os
import shutil
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np

from enginebench.leftovers import staged
from enginebench.models.presets import Preset
from enginebench.models.safetensors_stream import DTYPES, to_storage, write_file

GENERATOR_VERSION = 1
SHARD_BYTES = 2 * 1024**3
CHUNK_ELEMENTS = 16 * 1024**2
# Logit standard deviation of the output layer: large enough that greedy choices are
# separated by clear margins (near-uniform logits make engines disagree on ties).
LOGIT_STD = 4.0
TOKENIZER_FILES = ("tokenizer.model", "tokenizer.json", "tokenizer_config.json")
# what a preset's checkpoint directory says of its recipe
PRESET_MARKER = "enginebench-preset.json"


def tensor_plan(p: Preset) -> list[tuple[str, tuple[int, ...], float]]:
    """Every tensor of the checkpoint: (name, shape, init std; 0 means all ones)."""
    h, i, kv = p.hidden_size, p.intermediate_size, p.num_kv_heads * p.head_dim
    plan: list[tuple[str, tuple[int, ...], float]] = [
        ("model.embed_tokens.weight", (p.vocab_size, h), 1.0)
    ]
    for n in range(p.num_layers):
        pre = f"model.layers.{n}."
        plan += [
            (pre + "input_layernorm.weight", (h,), 0.0),
            (pre + "self_attn.q_proj.weight", (h, h), h**-0.5),
            (pre + "self_attn.k_proj.weight", (kv, h), h**-0.5),
            (pre + "self_attn.v_proj.weight", (kv, h), h**-0.5),
            (pre + "self_attn.o_proj.weight", (h, h), h**-0.5),
            (pre + "post_attention_layernorm.weight", (h,), 0.0),
            (pre + "mlp.gate_proj.weight", (i, h), h**-0.5),
            (pre + "mlp.up_proj.weight", (i, h), h**-0.5),
            (pre + "mlp.down_proj.weight", (h, i), i**-0.5),
        ]
    plan.append(("model.norm.weight", (h,), 0.0))
    if not p.tie_word_embeddings:
        plan.append(("lm_head.weight", (p.vocab_size, h), LOGIT_STD * h**-0.5))
    return plan


def _chunks(p: Preset, name: str, shape: tuple[int, ...], std: float
            ) -> Iterator[tuple[str, np.ndarray]]:
    if std == 0.0:
        yield name, to_storage(np.ones(shape, np.float32), p.dtype)
        return
    digest = hashlib.sha256(name.encode()).digest()
    rng = np.random.default_rng([p.seed, int.from_bytes(digest[:8], "little")])
    row = math.prod(shape[1:])
    rows_per_chunk = max(1, CHUNK_ELEMENTS // row)
    for start in range(0, shape[0], rows_per_chunk):
        rows = min(rows_per_chunk, shape[0] - start)
        values = rng.standard_normal((rows, *shape[1:]), dtype=np.float32)
        values *= np.float32(std)
        yield name, to_storage(values, p.dtype)


def _shards(p: Preset) -> list[list[tuple[str, tuple[int, ...], float]]]:
    size = DTYPES[p.dtype][1]
    shards: list[list[tuple[str, tuple[int, ...], float]]] = [[]]
    used = 0
    for entry in tensor_plan(p):
        nbytes = math.prod(entry[1]) * size
        if shards[-1] and used + nbytes > SHARD_BYTES:
            shards.append([])
            used = 0
        shards[-1].append(entry)
        used += nbytes
    return shards


def copy_tokenizer(dest: Path) -> None:
    """Copy the tokenizer shipped with enginebench into a checkpoint directory."""
    src = resources.files("enginebench.models") / "tokenizer"
    for fname in TOKENIZER_FILES:
        with resources.as_file(src / fname) as f:
            shutil.copyfile(f, dest / fname)


def publish(p: Preset, tmp: Path, dest: Path, recipe: dict) -> None:
    """Write a preset's config.json, generation_config.json and marker (the preset and
    `recipe`) into the staged `tmp`, and rename it to `dest`, replacing an older build."""
    (tmp / "config.json").write_text(json.dumps(p.hf_config(), indent=2, sort_keys=True))
    (tmp / "generation_config.json").write_text(json.dumps(
        {"bos_token_id": p.bos_token_id, "eos_token_id": p.eos_token_id, "do_sample": False},
        indent=2))
    (tmp / PRESET_MARKER).write_text(json.dumps({"preset": p.to_dict(), **recipe}, indent=2))
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)


def write_checkpoint(p: Preset, dest: Path) -> Path:
    """Generate preset `p` into directory `dest` (written to a temp dir, then renamed)."""
    tmp = staged(dest)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        shards = _shards(p)
        names = (["model.safetensors"] if len(shards) == 1 else
                 [f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
                  for k in range(len(shards))])
        weight_map, total = {}, 0
        for fname, shard in zip(names, shards, strict=True):
            pieces = (c for name, shape, std in shard for c in _chunks(p, name, shape, std))
            total += write_file(tmp / fname, [(n, s) for n, s, _ in shard], p.dtype, pieces)
            weight_map.update({n: fname for n, _, _ in shard})
        if len(shards) > 1:
            index = {"metadata": {"total_size": total}, "weight_map": weight_map}
            (tmp / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
        copy_tokenizer(tmp)
        publish(p, tmp, dest, {"generator_version": GENERATOR_VERSION})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
