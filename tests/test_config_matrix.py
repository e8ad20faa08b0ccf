"""The config-variation agreement matrix: tiny checkpoints saved through transformers'
`save_pretrained` (the spelling users have: transformers 5 writes `rope_parameters`) and in
the older spelling (top-level `rope_theta`, `rope_scaling`), varying one field at a time.
Every installed engine at fp32 gives PyTorch fp32's greedy ids and logits within 1e-3, or
is `unsupported` naming the field; no engine may run and disagree.

Set ENGINEBENCH_MATRIX_OUT=FILE to have the matrix written there as Markdown.
"""

import os
from pathlib import Path

import numpy as np
import pytest
from hf_checkpoints import write_checkpoint

from enginebench.engines.base import Engine
from enginebench.engines.registry import engine_class, model_engines
from enginebench.measure.quality import top1_margins
from enginebench.models.checkpoint import Checkpoint

BASE = {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2,
        "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 32000,
        "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 1e4,
        "tie_word_embeddings": False}
# Llama 3.1's scaling: frequencies with wavelengths beyond 8192 / low_freq_factor are divided
LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
          "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
# name -> (fields changed from BASE, spelling: "new" = save_pretrained, "old" = rope_theta
# and rope_scaling at the top level)
VARIATIONS: dict[str, tuple[dict, str]] = {
    "base: rope_theta 1e4, GQA 2, untied (old spelling)": ({}, "old"),
    "base (save_pretrained)": ({}, "new"),
    "rope_theta 5e5": ({"rope_theta": 5e5}, "new"),
    "rope_theta 5e5 (old spelling)": ({"rope_theta": 5e5}, "old"),
    "rope_theta 1e6": ({"rope_theta": 1e6}, "new"),
    "llama3 rope scaling": ({"rope_theta": 5e5, "rope_scaling": LLAMA3}, "new"),
    "llama3 rope scaling (old spelling)": ({"rope_theta": 5e5, "rope_scaling": LLAMA3}, "old"),
    "rms_norm_eps 1e-6": ({"rms_norm_eps": 1e-6}, "new"),
    "head_dim 32 (hidden/heads = 16)": ({"head_dim": 32}, "new"),
    "GQA 1 (8 KV heads)": ({"num_key_value_heads": 8}, "new"),
    "GQA 4 (2 KV heads)": ({"num_key_value_heads": 2}, "new"),
    "GQA 8 (1 KV head)": ({"num_key_value_heads": 1}, "new"),
    "tied output head": ({"tie_word_embeddings": True}, "new"),
    "vocab 32003 (not a multiple of 64)": ({"vocab_size": 32003}, "new"),
    "max_position_embeddings 64": ({"max_position_embeddings": 64}, "new"),
    "attention_bias": ({"attention_bias": True}, "new"),
    "mlp_bias": ({"mlp_bias": True}, "new"),
}
PROMPT = [1, 450, 3578, 29871, 17, 99, 2000, 5, 31000, 42]
NEW = 16
CONTEXT = 64
RTOL = 1e-3
MATRIX: dict[str, dict[str, str]] = {}


def _fp32(cls: type[Engine]) -> str:
    return next(p for p, c in cls.precisions.items() if c == "fp32")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> dict:
    """Each variation's checkpoint and PyTorch fp32's reference on it, made on first use."""
    pytest.importorskip("transformers")
    torch_cls = engine_class("torch")
    if not torch_cls.available():
        pytest.skip("torch (the reference) is not installed")
    root = tmp_path_factory.mktemp("matrix")
    made: dict = {}

    def get(variation: str) -> tuple[Checkpoint, dict]:
        if variation not in made:
            fields, spelling = VARIATIONS[variation]
            ckpt = write_checkpoint(root / f"v{len(made)}", {**BASE, **fields}, spelling)
            engine = torch_cls()
            model = engine.load(ckpt, ckpt.path, "fp32", "cpu", threads=2, context=CONTEXT)
            ids = engine.generate(model, PROMPT, NEW).ids
            logits = engine.logits(model, PROMPT + ids)
            made[variation] = ckpt, {"ids": ids, "logits": logits}
        return made[variation]

    yield get
    out = os.environ.get("ENGINEBENCH_MATRIX_OUT")
    if out and MATRIX:
        names = [n for n in model_engines() if any(n in row for row in MATRIX.values())]
        lines = ["| variation | " + " | ".join(names) + " |",
                 "| --- |" + " --- |" * len(names)]
        lines += [f"| {v} | " + " | ".join(row.get(n, "") for n in names) + " |"
                  for v, row in MATRIX.items()]
        Path(out).write_text("\n".join(lines) + "\n")


def _agreeing_prefix(ref: dict, rel_err: float) -> int:
    """Generated tokens that must match: up to the reference's first near-tie, a step where
    its top-1 led by less than the engine's own logit error could flip (four times its
    measured teacher-forced error, at least 1e-4 of the largest logit)."""
    margins = top1_margins(ref["logits"][len(PROMPT) - 1:-1])
    ties = np.flatnonzero(margins < max(4 * rel_err, 1e-4))
    return int(ties[0]) if ties.size else NEW


@pytest.mark.parametrize("name", model_engines())
@pytest.mark.parametrize("variation", list(VARIATIONS))
def test_engine_agrees_with_torch_or_names_the_field(variation: str, name: str,
                                                    checkpoints, tmp_path: Path) -> None:
    cls = engine_class(name)
    if not cls.available():
        pytest.skip(f"{name} is not installed: {cls.install}")
    ckpt, ref = checkpoints(variation)
    precision = _fp32(cls)
    row = MATRIX.setdefault(variation, {})
    problem = cls.config_problem(ckpt.config, precision, CONTEXT)
    features = ckpt.config.features(CONTEXT)
    if problem:
        missing = [k for k in features if k not in cls.honoured(precision)]
        assert missing, problem
        for key in missing:
            assert features[key] in problem
        row[name] = f"unsupported ({', '.join(missing)})"
        return
    engine = cls()
    artifact = ckpt.path
    if engine.needs_artifact(precision):
        artifact = tmp_path / "artifact"
        engine.prepare(ckpt, precision, artifact)
    model = engine.load(ckpt, artifact, precision, "cpu", threads=2, context=CONTEXT)
    try:
        logits = engine.logits(model, PROMPT + ref["ids"])
        gen = engine.generate(model, PROMPT, NEW)
    finally:
        engine.close(model)
    row[name] = "DISAGREES"
    assert logits.shape == ref["logits"].shape
    rel = float(np.abs(logits - ref["logits"]).max() / np.abs(ref["logits"]).max())
    assert rel < RTOL, f"{name} on {variation}: max relative logit error {rel:.2e}"
    k = _agreeing_prefix(ref, rel)
    assert k >= NEW // 4, "the reference has a near-tie early; the test would prove little"
    assert gen.ids[:k] == ref["ids"][:k], f"{name} on {variation}: greedy ids differ"
    row[name] = "agree"
