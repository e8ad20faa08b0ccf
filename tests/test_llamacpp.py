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
