"""The OpenVINO adapter: every cell pins what the CPU plugin computes in, a precision the CPU
has no arithmetic for is `unsupported` (never an f32 run under another name), the int4 IR
records the groups it holds, and GenAI's own token times are used and checked."""

from pathlib import Path

import pytest

from enginebench.engines.base import Unsupported
from enginebench.engines.openvino import plugin
from enginebench.models.checkpoint import Checkpoint

ov = pytest.importorskip("openvino")
pytest.importorskip("openvino_genai")

from enginebench.engines.openvino import export  # noqa: E402
from enginebench.engines.openvino.model import OpenVinoEngine  # noqa: E402

CLASSES = ("fp32", "fp16", "bf16", "int8", "int4")


@pytest.mark.parametrize("precision", CLASSES)
def test_every_cell_pins_its_inference_precision_and_threads(precision: str) -> None:
    props = plugin.properties(precision, 3, kv_cache=True)
    # the plugin's own default is bf16 on AMX CPUs: never left to it
    assert props["INFERENCE_PRECISION_HINT"] == plugin.HINT[precision]
    assert props["INFERENCE_NUM_THREADS"] == 3 and props["NUM_STREAMS"] == 1
    assert props.get("KV_CACHE_PRECISION") == plugin.KV_CACHE[precision]


def test_a_precision_without_arithmetic_here_is_unsupported_not_run_at_f32(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Core:
        def get_property(self, device: str, name: str) -> list[str]:
            return ["FP32", "INT8"]

    monkeypatch.setattr(ov, "Core", Core)
    plugin.capability_problem.cache_clear()
    try:
        for precision, need in (("bf16", "AVX512-BF16"), ("fp16", "AVX512-FP16")):
            problem = plugin.capability_problem(precision)
            assert problem and need in problem and "f32" in problem
        assert plugin.capability_problem("fp32") is None
        assert plugin.capability_problem("int4") is None
    finally:
        plugin.capability_problem.cache_clear()

    class Compiled:  # what the plugin reports when it ran a bf16 request at f32
        def get_property(self, name: str) -> object:
            return ov.Type.f32

    with pytest.raises(Unsupported, match="bfloat16"):
        plugin.check_precision(Compiled(), "bf16")
    plugin.check_precision(Compiled(), "fp32")


def test_int4_export_records_its_groups_and_token_times_lie_inside_the_call(
        tiny: Checkpoint, tmp_path: Path) -> None:
    engine = OpenVinoEngine()
    if not engine.available():
        pytest.skip(f"openvino is not installed: {engine.install}")
    artifact = tmp_path / "int4"
    engine.prepare(tiny, "int4", artifact)
    # tiny's layers are 64 wide: NNCF's groups of 128 do not divide, so the export adjusts
    formats = export.weight_formats(artifact / export.MODEL)
    assert formats.get("u4 in groups of 64", 0) >= 4 * tiny.config.num_layers, formats
    assert not any("groups of 128" in k for k in formats)
    model = engine.load(tiny, artifact, "int4", "cpu", threads=1, context=48)
    assert any("u4 in groups of 64" in n for n in model.notes)
    prompt = [1, 450, 3578, 29871, 17, 99, 2000]
    gen = engine.generate(model, prompt, 12)
    assert len(gen.ids) == 12 and len(gen.times) == 12
    assert gen.times == sorted(gen.times)
    assert all(0 <= i < tiny.vocab_size for i in gen.ids)
    logits = engine.logits(model, prompt)
    assert logits.shape == (len(prompt), tiny.vocab_size)
    compiled = engine.build_info()["compiled"]
    assert "float32" in compiled["INFERENCE_PRECISION_HINT"]
    assert compiled["INFERENCE_NUM_THREADS"] == "1"


def test_bf16_at_one_thread_is_refused_where_the_plugin_crashes_on_it(
        tiny: Checkpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    # OpenVINO 2026.4 dies of SIGFPE compiling an LLM at bf16 with one thread
    monkeypatch.setattr(ov, "get_version", lambda: "2026.4.1-22982-e213a147257")
    problem = plugin.model_problem("bf16", 1)
    assert problem and "SIGFPE" in problem and "--threads 2" in problem
    assert plugin.model_problem("bf16", 2) is None
    assert all(plugin.model_problem(c, 1) is None for c in CLASSES if c != "bf16")
    # the adapter refuses before it compiles (an AMD without BF16 refuses for that reason)
    with pytest.raises(Unsupported, match=r"SIGFPE|BF16"):
        OpenVinoEngine().load(tiny, tiny.path, "bf16", "cpu", threads=1, context=64)
    # a later OpenVINO is tried again, so a fix (or the crash) shows
    monkeypatch.setattr(ov, "get_version", lambda: "2026.5.0-1-abc")
    assert plugin.model_problem("bf16", 1) is None
