"""Quality against the reference and the roofline: exact figures from fake engines."""

from pathlib import Path

import fake_engines as fe
import numpy as np
import pytest

from enginebench.measure.quality import compare_logits, first_difference, perplexity
from enginebench.measure.reference import DIVERGE_TOKENS, QUALITY_TOKENS
from enginebench.measure.roofline import MARGIN, decode_bytes_per_token
from enginebench.measure.suite import CellSpec, Suite
from enginebench.measure.workload import Workload
from enginebench.models.checkpoint import Checkpoint
from enginebench.results.store import load_run

WORKLOAD = Workload(prompt_tokens=16, new_tokens=8, warmups=0, reps=2, threads=1)


def _kl_by_hand(p_logits: np.ndarray, q_logits: np.ndarray) -> np.ndarray:
    out = []
    for a, b in zip(p_logits.astype(np.float64), q_logits.astype(np.float64), strict=True):
        p, q = np.exp(a) / np.exp(a).sum(), np.exp(b) / np.exp(b).sum()
        out.append(sum(pi * np.log(pi / qi) for pi, qi in zip(p, q, strict=True)))
    return np.array(out)


def test_two_token_vocabulary_by_hand() -> None:
    # p = (1/2, 1/2), q = (3/4, 1/4): KL = 1/2 ln(2/3) + 1/2 ln 2 = 1/2 ln(4/3)
    out = compare_logits(np.array([[0.0, 0.0]]), np.array([[np.log(3.0), 0.0]]))
    assert out["kl_mean"] == pytest.approx(0.5 * np.log(4 / 3))
    assert out["max_abs_logit_err"] == pytest.approx(np.log(3.0))
    assert first_difference([1, 2, 3], [1, 2, 4]) == 2
    assert first_difference([1, 2, 3], [1, 2, 3]) is None
    # uniform logits over 4 tokens: perplexity 4 whatever the ids
    assert perplexity(np.zeros((5, 4)), [0, 1, 2, 3, 0]) == pytest.approx(4.0)


def test_compare_rejects_bad_logits() -> None:
    with pytest.raises(ValueError, match="shape"):
        compare_logits(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        compare_logits(np.zeros((1, 2)), np.array([[np.nan, 0.0]]))


def test_reference_engine_scores_perfectly_and_perturbed_by_hand(tiny: Checkpoint,
                                                                tmp_path: Path) -> None:
    specs = [CellSpec(fe.LogitsEngine, "fp32"), CellSpec(fe.PerturbedEngine, "fp32")]
    suite = Suite(tiny, specs, WORKLOAD, "test-machine", tmp_path, quality=True,
                  reference_engine=fe.LogitsEngine)
    suite.run()
    run = load_run(suite.path)
    assert run.quality["reference"].startswith("logits fp32")
    same, perturbed = run.cells
    assert same.status == "ok"
    # an fp32 cell whose logits and ids leave the fp32 reference's computed another model
    assert perturbed.status == "failed" and perturbed.error.startswith("wrong output:")
    assert perturbed.quality.max_rel_logit_err > 1e-2

    assert same.quality.kl_mean == 0 and same.quality.kl_p99 == 0
    assert same.quality.top1_agree_pct == 100
    assert same.quality.max_abs_logit_err == 0
    assert same.quality.first_diff_token is None
    assert same.quality.tokens == QUALITY_TOKENS and same.quality.seconds >= 0
    # every divergence prompt agreed throughout
    assert len(same.quality.first_diffs) >= 8 and set(same.quality.first_diffs) == {None}
    assert same.quality.first_diff_min == same.quality.diverge_tokens == DIVERGE_TOKENS

    ids = run.quality["ids"]
    ref = fe.fake_logits(ids, tiny.vocab_size)
    shifted = ref.copy()
    shifted[:, 0] += fe.PERTURBATION
    kl = _kl_by_hand(ref, shifted)
    assert perturbed.quality.kl_mean == pytest.approx(kl.mean(), rel=1e-9)
    assert perturbed.quality.kl_p99 == pytest.approx(np.percentile(kl, 99), rel=1e-9)
    assert perturbed.quality.max_abs_logit_err == pytest.approx(fe.PERTURBATION, rel=1e-6)
    agree = (ref.argmax(-1) == shifted.argmax(-1)).mean() * 100
    assert perturbed.quality.top1_agree_pct == pytest.approx(agree)
    assert perturbed.quality.first_diff_token == 3
    assert perturbed.quality.perplexity is None  # a preset, not a real checkpoint


def _bandwidth(gbs: float) -> dict:
    return {"points": [{"bytes": 1 << 20, "copy_gbs": gbs, "triad_gbs": gbs, "read_gbs": gbs}]}


def test_result_above_the_bound_is_implausible(tiny: Checkpoint, tmp_path: Path) -> None:
    # FakeEngine decodes at exactly 100 tok/s (10 ms per token)
    per_token = decode_bytes_per_token(tiny.config, "fp32", *WORKLOAD.prompt_tokens,
                                       *WORKLOAD.new_tokens)
    runs = {}
    for name, tps_bound in [("slow-bus", 50.0), ("fast-bus", 1000.0)]:
        gbs = tps_bound * per_token / 1e9
        suite = Suite(tiny, [CellSpec(fe.FakeEngine, "fp32")], WORKLOAD, name, tmp_path,
                      bandwidth=_bandwidth(gbs))
        suite.run()
        runs[name] = load_run(suite.path).cells[0]
    slow, fast = runs["slow-bus"], runs["fast-bus"]
    assert slow.metrics.roofline_tps == pytest.approx(50.0)
    assert slow.metrics.roofline_pct == pytest.approx(200.0, rel=1e-3)
    assert slow.implausible and "200% of the memory-bandwidth bound" in slow.implausible
    assert fast.metrics.roofline_pct == pytest.approx(10.0, rel=1e-3)
    assert fast.implausible is None
    assert 100 * (1 + MARGIN) < 200


def test_bytes_per_token_counts_every_matrix_once(tiny: Checkpoint) -> None:
    c = tiny.config
    h, i, layers, v = c.hidden_size, c.intermediate_size, c.num_layers, c.vocab_size
    kv = c.num_kv_heads * h // c.num_heads
    weights = layers * (2 * h * h + 2 * h * kv + 3 * h * i) + v * h
    kv_cache = 2 * layers * kv * (16 + 3.5) * 2
    assert decode_bytes_per_token(c, "int4", 16, 8) == pytest.approx(weights / 2 + kv_cache)
