"""tinygrad's Llama forward agrees with PyTorch fp32 on `tiny`; every precision generates N."""

import re

import numpy as np
import pytest

from enginebench.engines.tinygrad.model import TinygradEngine
from enginebench.models.checkpoint import Checkpoint

pytest.importorskip("tinygrad")

PROMPT = [1, 450, 3578, 29871, 17, 99, 2000, 5, 31000, 42]
NEW = 24
RTOL = 1e-3
NEAR_TIE = 1e-2  # a top-1/top-2 logit margin this small may flip under fp32 rounding


@pytest.fixture(scope="module")
def reference(tiny: Checkpoint) -> dict:
    """PyTorch fp32: greedy ids from PROMPT, and logits over PROMPT + those ids."""
    pytest.importorskip("torch")
    from enginebench.engines.torch.model import TorchEngine

    torch_engine = TorchEngine()
    model = torch_engine.load(tiny, tiny.path, "fp32", "cpu", threads=1, context=64)
    ids = torch_engine.generate(model, PROMPT, NEW).ids
    return {"ids": ids, "logits": torch_engine.logits(model, PROMPT + ids)}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> TinygradEngine:
    """The engine, with tinygrad's compiler cache in a private file (read at first use)."""
    from tinygrad import helpers

    helpers.CACHEDB = str(tmp_path_factory.mktemp("tinygrad") / "cache.db")
    return TinygradEngine()


def test_fp32_logits_and_greedy_ids_match_torch(engine: TinygradEngine, tiny: Checkpoint,
                                                reference: dict) -> None:
    model = engine.load(tiny, tiny.path, "fp32", "cpu", threads=1, context=64)
    ref = reference["logits"]
    logits = engine.logits(model, PROMPT + reference["ids"])
    assert logits.shape == ref.shape and logits.dtype == np.float32
    rel = np.abs(logits - ref).max() / np.abs(ref).max()
    assert rel < RTOL, f"max relative logit error {rel:.2e}"

    steps = ref[len(PROMPT) - 1:-1]
    top2 = np.sort(steps, axis=-1)[:, -2:]
    ties = np.flatnonzero(top2[:, 1] - top2[:, 0] < NEAR_TIE)
    k = int(ties[0]) if ties.size else NEW
    assert k >= NEW // 2, "the tiny model has a near-tie early; the test would prove little"
    for _ in range(3):  # run, JIT capture, replay: the same ids each time
        gen = engine.generate(model, PROMPT, NEW)
        assert len(gen.ids) == len(gen.times) == NEW
        assert gen.ids[:k] == reference["ids"][:k]
        assert gen.times == sorted(gen.times)
    assert engine.compile_s(model) > 0
    assert any(re.fullmatch(r"compile_s=\d+\.\d+ \(.*\)", n) for n in model.notes)


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_reduced_precisions_generate_exactly_n(engine: TinygradEngine, tiny: Checkpoint,
                                               precision: str) -> None:
    model = engine.load(tiny, tiny.path, precision, "cpu", threads=1, context=32)
    for _ in range(2):
        gen = engine.generate(model, PROMPT, 8)
        assert len(gen.ids) == len(gen.times) == 8
        assert all(0 <= i < tiny.vocab_size for i in gen.ids)
    logits = engine.logits(model, PROMPT)
    assert logits.shape == (len(PROMPT), tiny.vocab_size) and np.isfinite(logits).all()


def test_kv_cache_too_small_is_an_error(engine: TinygradEngine, tiny: Checkpoint) -> None:
    model = engine.load(tiny, tiny.path, "fp32", "cpu", threads=1, context=12)
    with pytest.raises(ValueError, match="exceed the KV cache"):
        engine.generate(model, PROMPT, 8)


def test_build_info_names_backend(engine: TinygradEngine, tiny: Checkpoint) -> None:
    engine.load(tiny, tiny.path, "fp32", "cpu", threads=2, context=16)
    info = engine.build_info()
    assert info["device"] == "CPU" and info["renderer"] and info["num_cpu_threads"] == 2
