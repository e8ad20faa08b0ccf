"""ONNX Runtime specifics: a failing export is a `failed` cell with the exporter's words."""

import shutil
from pathlib import Path

import pytest

from enginebench.engines.registry import engine_class
from enginebench.measure.suite import CellSpec, Suite
from enginebench.measure.workload import Workload
from enginebench.models.checkpoint import Checkpoint, open_checkpoint


@pytest.mark.parametrize("name", ["onnxruntime", "onnxruntime-genai"])
def test_failed_export_is_a_recorded_failure(name: str, tiny: Checkpoint,
                                             tmp_path: Path) -> None:
    cls = engine_class(name)
    if not cls.available():
        pytest.skip(f"{name} is not installed")
    broken = tmp_path / "broken-model"
    shutil.copytree(tiny.path, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])  # cut short
    ckpt = open_checkpoint(broken)
    workload = Workload(prompt_tokens=8, new_tokens=4, warmups=0, reps=1, threads=1)
    suite = Suite(ckpt, [CellSpec(cls, "fp32")], workload, "m", tmp_path / "results")
    (cell,) = suite.run().cells
    assert cell.status == "failed"
    assert cell.error.startswith("RuntimeError: ONNX export")
    assert "safetensors" in cell.error.lower() or "deserializ" in cell.error.lower()
