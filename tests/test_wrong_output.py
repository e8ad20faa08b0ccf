"""The harness checks agreement in every run: an fp32 cell that computes another model than
the fp32 reference (here PyTorch made to misread the rotary base of a transformers 5
checkpoint) is `failed` with `wrong output`, never a clean `ok`."""

from pathlib import Path

import pytest
from fake_engines import MisreadRopeEngine
from hf_checkpoints import write_checkpoint
from test_config_matrix import BASE

from enginebench.engines.registry import engine_class
from enginebench.measure.suite import CellSpec, Suite
from enginebench.measure.workload import Workload
from enginebench.results.store import load_run


def test_a_misread_config_is_flagged_not_published(tmp_path: Path, cache_dir: Path) -> None:
    torch_cls = engine_class("torch")
    if not torch_cls.available():
        pytest.skip("torch (the reference) is not installed")
    ckpt = write_checkpoint(tmp_path / "ckpt", {**BASE, "rope_theta": 5e5}, "new")
    specs = [CellSpec(torch_cls, "fp32"), CellSpec(MisreadRopeEngine, "fp32"),
             CellSpec(MisreadRopeEngine, "int8")]
    workload = Workload(prompt_tokens=16, new_tokens=8, warmups=0, reps=1, threads=2)
    suite = Suite(ckpt, specs, workload, "test-machine", tmp_path / "out", quality=True)
    suite.run()
    torch_cell, misread, misread_int8 = load_run(suite.path).cells
    assert torch_cell.status == "ok" and torch_cell.quality.first_diff_token is None
    assert misread.status == "failed", misread.error
    assert misread.error.startswith("wrong output:")
    # the speed figures and the evidence stay in the file
    assert misread.metrics.decode_tps is not None
    assert misread.quality.max_rel_logit_err > 1e-2
    k = misread.quality.first_diff_token
    assert k is not None and misread.quality.first_diff_margin is not None
    if k < len(misread.output_ids) and misread.quality.first_diff_margin >= 1e-2:
        assert f"greedy token {k}" in misread.error
    # other precision classes may differ from fp32: their quality says by how much
    assert misread_int8.status == "ok", misread_int8.error
