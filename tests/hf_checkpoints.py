"""Tiny Llama checkpoints saved by transformers' own `save_pretrained` (the spelling users
have), or rewritten in transformers 4's spelling, with weights that give clear greedy
margins: for the config-variation tests and the in-run agreement check."""

import hashlib
import json
from pathlib import Path

import numpy as np

from enginebench.models.checkpoint import Checkpoint, open_checkpoint
from enginebench.models.generate import LOGIT_STD, copy_tokenizer


def _transformers_config(fields: dict):
    from transformers import LlamaConfig

    fields = dict(fields)
    rope = {"rope_theta": fields.pop("rope_theta"),
            **(fields.pop("rope_scaling", None) or {"rope_type": "default"})}
    return LlamaConfig(**fields, rope_parameters=rope, bos_token_id=1, eos_token_id=2)


def _weights(model, fields: dict) -> None:
    """Deterministic weights with clear greedy margins (transformers' init gives logits
    near 0, where every token is a near-tie): each tensor from its own generator."""
    import torch

    h = fields["hidden_size"]
    with torch.no_grad():
        for name, p in model.named_parameters():
            seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")
            rng = np.random.default_rng(seed)
            if "norm" in name:
                values = np.ones(p.shape)
            elif "embed_tokens" in name:
                values = rng.standard_normal(p.shape)
            elif name.startswith("lm_head"):
                values = rng.standard_normal(p.shape) * LOGIT_STD * h**-0.5
            elif name.endswith(".bias"):
                values = rng.standard_normal(p.shape) * 0.5
            else:
                values = rng.standard_normal(p.shape) * p.shape[-1] ** -0.5
            p.copy_(torch.from_numpy(values.astype(np.float32)))


def _old_spelling(path: Path) -> None:
    """Rewrite config.json as transformers 4 wrote it: rope_theta and rope_scaling."""
    cfg = json.loads(path.read_text())
    rope = cfg.pop("rope_parameters")
    cfg["rope_theta"] = rope.pop("rope_theta")
    cfg["rope_scaling"] = rope if rope.get("rope_type", "default") != "default" else None
    path.write_text(json.dumps(cfg, indent=2))


def write_checkpoint(dest: Path, fields: dict, spelling: str) -> Checkpoint:
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(_transformers_config(fields))
    _weights(model, fields)
    model.save_pretrained(dest)
    copy_tokenizer(dest)
    saved = json.loads((dest / "config.json").read_text())
    assert "rope_parameters" in saved and "rope_theta" not in saved, \
        "transformers >= 5 writes rope_parameters; the new spelling is not under test"
    if spelling == "old":
        _old_spelling(dest / "config.json")
    return open_checkpoint(dest)
