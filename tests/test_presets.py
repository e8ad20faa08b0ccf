"""Generated checkpoints: the same bytes every time, loadable, with the shapes asked for."""

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from enginebench.models.checkpoint import open_checkpoint
from enginebench.models.generate import write_checkpoint
from enginebench.models.presets import PRESETS, preset_params


def _digests(path: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(path.iterdir())}


def test_same_bytes_twice(tmp_path: Path) -> None:
    a = write_checkpoint(PRESETS["tiny"], tmp_path / "a")
    b = write_checkpoint(PRESETS["tiny"], tmp_path / "b")
    assert _digests(a) == _digests(b)
    assert {"config.json", "model.safetensors", "tokenizer.model", "tokenizer.json",
            "tokenizer_config.json"} <= set(_digests(a))


def test_shapes_and_parameter_count(tmp_path: Path) -> None:
    p = PRESETS["tiny"]
    ckpt = open_checkpoint(write_checkpoint(p, tmp_path / "t"))
    assert ckpt.params == preset_params(p)
    tensors = load_file(tmp_path / "t" / "model.safetensors")
    kv = p.num_kv_heads * p.head_dim
    assert tensors["model.layers.0.self_attn.k_proj.weight"].shape == (kv, p.hidden_size)
    assert tensors["lm_head.weight"].shape == (p.vocab_size, p.hidden_size)
    assert np.all(tensors["model.norm.weight"] == 1.0)


def test_sharded_streaming_and_bf16(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file as load_torch

    from enginebench.models import generate

    monkeypatch.setattr(generate, "SHARD_BYTES", 20_000)
    p = replace(PRESETS["tiny"], name="tiny-bf16", dtype="bfloat16", tie_word_embeddings=True)
    out = write_checkpoint(p, tmp_path / "bf")
    index = json.loads((out / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 2 and "lm_head.weight" not in index["weight_map"]
    emb = load_torch(out / index["weight_map"]["model.embed_tokens.weight"])
    tensor = emb["model.embed_tokens.weight"]
    assert tensor.dtype == torch.bfloat16
    assert 0.9 < float(tensor.float().std()) < 1.1
    assert open_checkpoint(out).params == preset_params(p)
