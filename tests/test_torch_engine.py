"""The PyTorch adapter: agrees with transformers' own greedy generate, runs every precision."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from enginebench.cli import main
from enginebench.models.checkpoint import Checkpoint
from enginebench.models.generate import PRESET_MARKER, write_checkpoint
from enginebench.models.presets import PRESETS

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from enginebench.engines.torch.model import TorchEngine  # noqa: E402


def test_manual_decode_loop_matches_transformers_generate(tiny: Checkpoint) -> None:
    engine = TorchEngine()
    model = engine.load(tiny, tiny.path, "fp32", "cpu", threads=1, context=64)
    prompt = [1, 450, 3578, 29871, 17, 99, 2000]
    gen = engine.generate(model, prompt, 24)
    ref = model.handle.net.generate(torch.tensor([prompt]), do_sample=False, max_new_tokens=24,
                                min_new_tokens=24, eos_token_id=None, pad_token_id=0)
    assert gen.ids == ref[0, len(prompt):].tolist()
    assert len(gen.times) == 24 and gen.times == sorted(gen.times)
    logits = engine.logits(model, prompt)
    assert logits.shape == (len(prompt), tiny.vocab_size)
    assert int(logits[-1].argmax()) == gen.ids[0]


def _run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    code = main(["run", "--engines", "torch", "--prompt-tokens", "16", "--new-tokens", "8",
                 "--warmups", "0", "--reps", "2", "--threads", "1", "--format", "json", *args])
    assert code == 0
    return json.loads(capsys.readouterr().out)


def test_every_precision_on_tiny(tiny: Checkpoint, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    doc = _run_json(capsys, "--model", "tiny", "--precisions", "all", "--out", str(tmp_path))
    cells = {c["precision"]: c for c in doc["cells"]}
    assert set(cells) == set(TorchEngine.precisions)
    for name, cell in cells.items():
        assert cell["status"] == "ok", (name, cell["error"])
        assert cell["tokens_generated"] == 8
        assert cell["metrics"]["decode_tps"]["median"] > 0
        assert cell["metrics"]["peak_rss_mb"] > 100  # torch itself is in the process
        assert cell["metrics"]["roofline_pct"] > 0 and cell["implausible"] is None
        assert cell["quality"]["perplexity"] is None  # a preset: random weights
    assert doc["environment"]["memory_bandwidth"]["points"][0]["read_gbs"] > 0
    assert cells["fp32"]["output_ids"] == cells["fp32"]["output_ids"]
    assert doc["environment"]["engines"]["torch"]["build"]["cpu_capability"]
    assert list((tmp_path).glob("*/*.json"))


@pytest.mark.parametrize("tied", [False, True])
def test_model_dir_gqa_checkpoint(tmp_path: Path, tied: bool,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    shape = replace(PRESETS["tiny"], name="gqa", num_heads=8, num_kv_heads=2, hidden_size=128,
                    tie_word_embeddings=tied, seed=7)
    ckpt_dir = write_checkpoint(shape, tmp_path / "my-gqa-model")
    if tied:  # without enginebench's marker it is a checkpoint from elsewhere: trained
        (ckpt_dir / PRESET_MARKER).unlink()
    config = json.loads((ckpt_dir / "config.json").read_text())
    assert config["num_key_value_heads"] == 2 and config["tie_word_embeddings"] is tied
    doc = _run_json(capsys, "--model", str(ckpt_dir), "--precisions", "fp32",
                    "--roofline", "off", "--out", str(tmp_path / "results"))
    assert doc["model"]["name"] == "my-gqa-model"
    assert doc["model"]["num_kv_heads"] == 2
    assert doc["model"]["tie_word_embeddings"] is tied
    (cell,) = doc["cells"]
    assert cell["status"] == "ok", cell["error"]
    assert cell["tokens_generated"] == 8
    # a checkpoint from elsewhere is taken as trained: perplexity on the evaluation text
    # (random weights: huge, but finite); enginebench's own random weights have none
    assert doc["model"]["trained"] is tied
    if tied:
        assert 1 < cell["quality"]["perplexity"] < float("inf")
    else:
        assert cell["quality"]["perplexity"] is None


def test_compiled_decode_gives_eager_ids_and_reports_its_compile_once(tiny: Checkpoint
                                                                       ) -> None:
    from enginebench.engines.torch.compiled import TorchCompileEngine

    prompt = [1, 450, 3578, 29871, 17, 99, 2000]
    eager = TorchEngine()
    eager_model = eager.load(tiny, tiny.path, "fp32", "cpu", threads=1, context=64)
    want = eager.generate(eager_model, prompt, 12).ids
    engine = TorchCompileEngine()
    model = engine.load(tiny, tiny.path, "fp32", "cpu", threads=1, context=64)
    assert engine.compile_s(model) is None  # nothing compiled before the first decode step
    # a cold compile: Inductor's on-disk caches are an empty folder of this model's own ...
    inductor_dir = Path(model.handle.inductor_dir)
    assert inductor_dir.is_dir() and not any(inductor_dir.iterdir())
    first = engine.generate(model, prompt, 12)
    compile_s = engine.compile_s(model)
    assert compile_s is not None and compile_s > 0
    assert any(inductor_dir.iterdir())  # ... which Inductor compiled into
    # a second call (and one of another length, a new cache and graph) keeps the first figure
    assert engine.generate(model, prompt, 12).ids == first.ids == want
    assert len(engine.generate(model, prompt[:3], 5).ids) == 5
    assert engine.compile_s(model) == compile_s
    assert sum("compile_s=" in n for n in model.notes) == 1
    assert engine.build_info()["compile"]["backend"] == "inductor"
    logits = engine.logits(model, prompt)
    ref = eager.logits(eager_model, prompt)
    assert logits.shape == ref.shape
    assert abs(logits - ref).max() < 1e-3 * abs(ref).max()
    engine.close(model)
    assert not inductor_dir.exists()
