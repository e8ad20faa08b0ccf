"""llama.cpp specifics: a damaged GGUF in the cache is rebuilt, never benchmarked."""

from pathlib import Path

import pytest

from enginebench.engines.registry import engine_class
from enginebench.measure import artifacts
from enginebench.measure.suite import CellSpec, Suite
from enginebench.measure.workload import Workload
from enginebench.models.checkpoint import Checkpoint

WORKLOAD = Workload(prompt_tokens=16, new_tokens=8, warmups=0, reps=1, threads=1)


def test_truncated_gguf_in_cache_is_rebuilt(tiny: Checkpoint, tmp_path: Path) -> None:
    cls = engine_class("llamacpp")
    if not cls.available():
        pytest.skip("llamacpp is not installed")
    specs = [CellSpec(cls, "q8_0")]
    first = Suite(tiny, specs, WORKLOAD, "m", tmp_path).run().cells[0]
    assert first.status == "ok", first.error
    gguf = artifacts.artifact_dir(tiny, cls, "q8_0") / "model.gguf"
    good = gguf.read_bytes()
    gguf.write_bytes(good[: len(good) // 2])

    second = Suite(tiny, specs, WORKLOAD, "m", tmp_path).run().cells[0]
    assert second.status == "ok", second.error
    assert second.metrics.artifact_cached is False
    assert any("cached artifact rejected and rebuilt" in n and "model.gguf" in n
               for n in second.notes)
    assert gguf.read_bytes() == good  # conversion is deterministic
    assert second.output_ids == first.output_ids


def test_cached_ggufs_are_reused_not_reconverted(tiny: Checkpoint, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """candle runs llamacpp's own cached file (a hard link), and a quantization starts from
    the cached GGUF at the checkpoint's dtype: a 7B model is converted once, not per cell."""
    from enginebench.engines.llamacpp import gguf as gguf_tools

    llamacpp, candle = engine_class("llamacpp"), engine_class("candle")
    if not llamacpp.available():
        pytest.skip("llamacpp is not installed")
    for precision in ("f32", "q8_0"):  # tiny is float32: f32 is its base type
        cell = Suite(tiny, [CellSpec(llamacpp, precision)], WORKLOAD, "m", tmp_path).run()
        assert cell.cells[0].status == "ok", cell.cells[0].error

    def no_conversion(*args: object) -> None:
        raise AssertionError("converted although a cached GGUF was there")

    monkeypatch.setattr(gguf_tools, "convert", no_conversion)
    same = tmp_path / "candle-q8_0"
    candle().prepare(tiny, "q8_0", same)
    cached = artifacts.artifact_dir(tiny, llamacpp, "q8_0") / "model.gguf"
    assert (same / "model.gguf").stat().st_ino == cached.stat().st_ino
    quantized = tmp_path / "q4_0"
    llamacpp().prepare(tiny, "q4_0", quantized)
    assert (quantized / "model.gguf").stat().st_size > 0
    assert sorted(p.name for p in quantized.iterdir()) == ["model.gguf"]
