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
    # damaged weights are refused by open_checkpoint now; an architecture the exporter
    # does not know still gets past enginebench and fails the export
    config = broken / "config.json"
    config.write_text(config.read_text().replace("LlamaForCausalLM", "LlamaForNothing"))
    ckpt = open_checkpoint(broken)
    workload = Workload(prompt_tokens=8, new_tokens=4, warmups=0, reps=1, threads=1)
    suite = Suite(ckpt, [CellSpec(cls, "fp32")], workload, "m", tmp_path / "results")
    (cell,) = suite.run().cells
    assert cell.status == "failed"
    assert cell.error.startswith("RuntimeError: ONNX export")
    assert "not currently supported" in cell.error


# /proc/cpuinfo flags of the CPUs seen: AMD EPYC Zen 2/3 (AVX2 only), Zen 4 and Intel Xeon
# (AVX-512 VNNI), an Intel client core (AVX-VNNI), and an ARM server
AVX2_ONLY = frozenset({"sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c"})
CPUS = {
    "epyc-avx2": (AVX2_ONLY, True),
    "epyc-zen4": (AVX2_ONLY | {"avx512f", "avx512bw", "avx512_vnni"}, False),
    "xeon-avx512-vnni": (AVX2_ONLY | {"avx512f", "avx512_vnni", "amx_int8"}, False),
    "core-avx-vnni": (AVX2_ONLY | {"avx_vnni"}, False),
    "arm-neoverse": (frozenset({"asimd", "sve", "i8mm"}), False),
}


@pytest.mark.parametrize("cpu", list(CPUS))
def test_int8_uses_onnxruntimes_setting_for_the_cpu(cpu: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from enginebench.engines.onnxruntime import model as ortm

    flags, reduce_range = CPUS[cpu]
    assert ortm.int8_reduce_range(flags) is reduce_range
    monkeypatch.setattr(ortm, "cpu_flags", lambda: flags)
    key = ortm.OnnxRuntimeEngine.artifact_key("int8")
    assert key == ("reduce_range" if reduce_range else "")  # its own cached artifact
    assert ortm.OnnxRuntimeEngine.artifact_key("int4") == ""
    assert ("reduce_range" in ortm.int8_setting_note(reduce_range)) is reduce_range


@pytest.mark.parametrize("reduce_range", [False, True])
def test_int8_matmul_is_accurate_with_either_setting(reduce_range: bool,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator test's int8 matmul at either setting: 7-bit weights stay within the
    int8 tolerance on any CPU; full 8-bit weights only where this CPU is one ONNX Runtime
    gives them to (VNNI or not x86): without VNNI its u8s8 kernels saturate, which is why
    the engine picks reduce_range there."""
    from enginebench.engines.onnxruntime import model as ortm
    from enginebench.engines.onnxruntime import ops as onnxruntime_ops
    from enginebench.models.presets import PRESETS
    from enginebench.ops.cases import TOLERANCE, model_cases, reference, rel_error
    from enginebench.ops.timing import TimingPlan

    if not engine_class("onnxruntime").available():
        pytest.skip("onnxruntime is not installed")
    if not reduce_range and ortm.int8_reduce_range():
        pytest.skip("this CPU has no VNNI: full 8-bit u8s8 weights saturate here, and the "
                    "engine uses reduce_range (the case above)")
    monkeypatch.setattr(onnxruntime_ops, "int8_reduce_range", lambda: reduce_range)
    case = next(c for c in model_cases(PRESETS["tiny"].config(), 16, 40)
                if c.name == "matmul.mlp_up")
    inputs = case.make_inputs()
    engine = onnxruntime_ops.OnnxRuntimeOps(1, "cpu")
    run = engine.run(case, inputs, "int8", TimingPlan(warmups=0, reps=1, min_sample_s=0.0))
    assert engine.build_info()["int8_reduce_range"] is reduce_range
    assert rel_error(run.output, reference(case, inputs)) <= TOLERANCE["int8"]
