"""Every engine's fp32 variant agrees with PyTorch fp32 on `tiny`: logits and greedy ids."""

import json
from pathlib import Path

import numpy as np
import pytest

from enginebench.cli import main
from enginebench.engines.base import Engine
from enginebench.engines.registry import engine_class
from enginebench.models.checkpoint import Checkpoint

# engine -> its fp32 precision name
FP32 = {"llamacpp": "f32", "ctranslate2": "float32", "onnxruntime": "fp32",
        "onnxruntime-genai": "fp32", "tinygrad": "fp32", "candle": "f32", "burn": "f32"}
NEW = 24
RTOL = 1e-3
NEAR_TIE = 1e-2  # a top-1/top-2 logit margin this small may flip under fp32 rounding


def _installed(name: str) -> type[Engine]:
    cls = engine_class(name)
    if not cls.available():
        pytest.skip(f"{name} is not installed")
    return cls


@pytest.fixture(scope="module")
def reference(tiny: Checkpoint) -> dict:
    """PyTorch fp32: greedy ids from a prompt, and logits over prompt + those ids."""
    torch_engine = _installed("torch")()
    model = torch_engine.load(tiny, tiny.path, "fp32", "cpu", threads=1, context=64)
    prompt = [1, 450, 3578, 29871, 17, 99, 2000, 5, 31000, 42]
    ids = torch_engine.generate(model, prompt, NEW).ids
    logits = torch_engine.logits(model, prompt + ids)
    return {"prompt": prompt, "ids": ids, "logits": logits}


def _agreeing_prefix(ref: dict) -> int:
    """Tokens of the reference that must match: up to its first near-tie."""
    steps = ref["logits"][len(ref["prompt"]) - 1:-1]
    top2 = np.sort(steps, axis=-1)[:, -2:]
    ties = np.flatnonzero(top2[:, 1] - top2[:, 0] < NEAR_TIE)
    return int(ties[0]) if ties.size else NEW


@pytest.mark.parametrize("name", sorted(FP32))
def test_fp32_logits_and_greedy_ids_match_torch(name: str, tiny: Checkpoint, reference: dict,
                                                tmp_path: Path) -> None:
    engine = _installed(name)()
    precision = FP32[name]
    artifact = tiny.path
    if engine.needs_artifact(precision):
        artifact = tmp_path / "artifact"
        engine.prepare(tiny, precision, artifact)
    model = engine.load(tiny, artifact, precision, "cpu", threads=1, context=64)
    ids = reference["prompt"] + reference["ids"]
    logits = engine.logits(model, ids)
    ref = reference["logits"]
    assert logits.shape == ref.shape
    rel = np.abs(logits - ref).max() / np.abs(ref).max()
    assert rel < RTOL, f"{name}: max relative logit error {rel:.2e}"
    gen = engine.generate(model, reference["prompt"], NEW)
    assert len(gen.ids) == NEW
    k = _agreeing_prefix(reference)
    assert k >= NEW // 2, "the tiny model has a near-tie early; the test would prove little"
    assert gen.ids[:k] == reference["ids"][:k]
    engine.close(model)


@pytest.mark.parametrize("name", sorted(FP32))
def test_every_precision_runs_or_says_why(name: str, tiny: Checkpoint, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    cls = _installed(name)
    code = main(["run", "--engines", name, "--model", "tiny", "--prompt-tokens", "16",
                 "--new-tokens", "8", "--warmups", "0", "--reps", "1", "--threads", "1",
                 "--roofline", "off",
                 "--format", "json", "--out", str(tmp_path)])
    assert code == 0
    cells = {c["precision"]: c for c in json.loads(capsys.readouterr().out)["cells"]}
    assert set(cells) == set(cls.precisions)
    for precision, cell in cells.items():
        assert cell["status"] in ("ok", "unsupported"), (precision, cell["error"])
        if cell["status"] == "ok":
            assert cell["tokens_generated"] == 8
            assert cell["metrics"]["artifact_bytes"] > 0
            assert (cell["metrics"]["convert_s"] > 0) is cls.needs_artifact(precision)
            # quality against torch fp32 was measured for every ok cell
            assert cell["quality"]["tokens"] == 256, cell["quality_error"]
            assert 0 <= cell["quality"]["kl_mean"] < 10
        else:
            assert cell["error"]
    assert cells[FP32[name]]["status"] == "ok"
    assert cells[FP32[name]]["quality"]["kl_mean"] < 1e-4  # fp32 against fp32
