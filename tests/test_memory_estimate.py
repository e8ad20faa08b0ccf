"""A cell that cannot fit in the machine's memory is refused before it converts or loads."""

from pathlib import Path

import fake_engines as fe
import pytest

from enginebench.engines.base import PRECISION_CLASSES, Engine
from enginebench.engines.registry import ENGINES, engine_class
from enginebench.measure import artifacts, memory
from enginebench.measure.suite import CellSpec, Suite
from enginebench.measure.workload import Workload
from enginebench.models.checkpoint import Checkpoint
from enginebench.models.presets import PRESETS, preset_params

GIB = 2**30
CONTEXT = 1024  # the quality pass's sequence


def preset_checkpoint(name: str) -> Checkpoint:
    """A preset's checkpoint as the estimate sees it: shape and size, no files."""
    p = PRESETS[name]
    return Checkpoint(name, Path("/nonexistent"), p.config(), preset_params(p), "0" * 16)


@pytest.fixture
def llama7b() -> Checkpoint:
    ckpt = preset_checkpoint("llama2-7b")
    assert ckpt.params == 6_738_415_616
    return ckpt


@pytest.fixture
def machine_24gib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "machine_bytes", lambda: 24 * GIB)


def engine(name: str) -> type[Engine]:
    return engine_class(name)


def test_a_cell_that_cannot_fit_is_refused_with_needs_and_has(
        llama7b: Checkpoint, machine_24gib: None) -> None:
    why = memory.refusal(engine("torch"), llama7b, "fp32", CONTEXT, needs_conversion=False)
    assert why is not None
    assert why.startswith("needs ~")
    assert "fp32 weights 30.3 GB" in why  # 6.74e9 params at torch's fp32 load peak
    assert "this machine has 25.8 GB" in why  # 24 GiB in GB of 10^9 bytes


def test_a_cell_that_fits_is_not_refused(llama7b: Checkpoint, machine_24gib: None) -> None:
    llamacpp = engine("llamacpp")
    for precision in ("q4_0", "q4_k_m", "q8_0", "f16"):
        for converting in (True, False):
            assert memory.refusal(llamacpp, llama7b, precision, CONTEXT, converting) is None
    assert memory.refusal(engine("torch"), llama7b, "fp16", CONTEXT, False) is None


def test_llamacpp_q4_estimate_is_near_the_measured_rss(llama7b: Checkpoint) -> None:
    """data/results: llama2-7b q4_0 peaked at 7.3 GB RSS (48-token context)."""
    est = memory.estimate(engine("llamacpp"), llama7b, "q4_0", 48, needs_conversion=False)
    assert 7.3e9 <= est.total_bytes <= 1.3 * 7.3e9


def test_torch_quantized_7b_is_refused_because_it_loads_fp32_first(
        llama7b: Checkpoint, machine_24gib: None) -> None:
    torch = engine("torch")
    for precision in ("int8", "int8_dynamic", "int4"):
        est = memory.estimate(torch, llama7b, precision, CONTEXT, False)
        assert est.weights_bytes >= 4 * llama7b.params
        assert memory.refusal(torch, llama7b, precision, CONTEXT, False) is not None


def test_a_cached_artifact_drops_the_conversion(llama7b: Checkpoint,
                                                 machine_24gib: None) -> None:
    ort = engine("onnxruntime")
    converting = memory.estimate(ort, llama7b, "int4", CONTEXT, needs_conversion=True)
    cached = memory.estimate(ort, llama7b, "int4", CONTEXT, needs_conversion=False)
    assert converting.conversion_bytes > converting.run_bytes  # the fp32 graph, quantized
    assert cached.conversion_bytes == 0
    assert cached.run_bytes == converting.run_bytes
    why = memory.refusal(ort, llama7b, "int4", CONTEXT, needs_conversion=True)
    assert why is not None and "conversion peak" in why
    assert memory.refusal(ort, llama7b, "int4", CONTEXT, needs_conversion=False) is None


def test_no_conversion_where_the_precision_runs_from_the_checkpoint(
        llama7b: Checkpoint) -> None:
    est = memory.estimate(engine("candle"), llama7b, "f16", CONTEXT, needs_conversion=True)
    assert est.conversion_bytes == 0
    assert artifacts.is_cached(llama7b, engine("candle"), "f16")
    assert artifacts.is_cached(llama7b, engine("torch"), "fp32")


def test_parts_weights_kv_logits_overhead(llama7b: Checkpoint) -> None:
    c = llama7b.config
    est = memory.estimate(engine("torch"), llama7b, "fp16", CONTEXT, False)
    assert est.weights_bytes == 2 * llama7b.params
    assert est.kv_bytes == 2 * c.num_layers * c.num_kv_heads * c.head_dim * CONTEXT * 2
    assert est.logits_bytes == memory.LOGITS_COPIES * CONTEXT * c.vocab_size * 4
    assert est.total_bytes == est.run_bytes == (est.weights_bytes + est.kv_bytes
                                                + est.logits_bytes + est.overhead_bytes)
    fp32 = memory.estimate(engine("torch"), llama7b, "fp32", CONTEXT, False)
    assert fp32.kv_bytes == 2 * est.kv_bytes  # torch fp32 keeps an fp32 KV cache
    gqa = preset_checkpoint("mistral-7b")
    kv = memory.estimate(engine("torch"), gqa, "fp16", CONTEXT, False).kv_bytes
    assert kv == est.kv_bytes // 4  # 8 KV heads of 32


def test_the_share_left_to_the_system(llama7b: Checkpoint,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    need = memory.estimate(engine("torch"), llama7b, "fp16", CONTEXT, False).total_bytes
    monkeypatch.setattr(memory, "machine_bytes", lambda: int(need / memory.USABLE_SHARE) + 1)
    assert memory.refusal(engine("torch"), llama7b, "fp16", CONTEXT, False) is None
    monkeypatch.setattr(memory, "machine_bytes", lambda: int(need * 1.05))
    why = memory.refusal(engine("torch"), llama7b, "fp16", CONTEXT, False)
    assert why is not None and "90% of it" in why  # more than it needs, not enough to spare


def test_every_engine_declares_known_classes_and_estimates_each_precision(
        llama7b: Checkpoint) -> None:
    for name, row in ENGINES.items():
        if row.model is None:
            continue
        cls = engine(name)
        mem = cls.memory
        assert set(mem.weights) | set(mem.kv) | set(mem.convert) <= set(PRECISION_CLASSES), name
        for precision in cls.precisions:
            est = memory.estimate(cls, llama7b, precision, CONTEXT, True)
            assert est.weights_bytes >= 0.5 * llama7b.params, (name, precision)
            assert 0 < est.run_bytes < 100e9, (name, precision)


def test_suite_records_the_cell_that_cannot_fit_as_unsupported(
        tiny: Checkpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workload = Workload(prompt_tokens=8, new_tokens=4, warmups=0, reps=1, threads=1)
    specs = [CellSpec(fe.FakeEngine, "fp32"), CellSpec(fe.FakeEngine, "int8")]
    suite = Suite(tiny, specs, workload, "test-machine", tmp_path, timeout_s=60)
    fp32, int8 = (memory.estimate(fe.FakeEngine, tiny, p, suite.context(suite.specs[0]),
                                  False).total_bytes
                  for p in ("fp32", "int8"))
    assert int8 < fp32
    between = (fp32 + int8) / 2 / memory.USABLE_SHARE  # int8 fits, fp32 does not
    monkeypatch.setattr(memory, "machine_bytes", lambda: int(between))
    by = {c.precision: c for c in suite.run().cells}
    assert by["fp32"].status == "unsupported"
    assert by["fp32"].error.startswith("needs ~") and "this machine has" in by["fp32"].error
    assert by["int8"].status == "ok", by["int8"].error


class UnconvertedEngine(fe.ConvertingEngine):
    """Converts, under a name no other test converts with (its cells never start a child)."""

    name = "unconverted"


def test_a_tiny_machine_refuses_a_converting_cell_before_converting(
        tiny: Checkpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "machine_bytes", lambda: 10**6)
    assert not artifacts.is_cached(tiny, UnconvertedEngine, "fp32")
    workload = Workload(prompt_tokens=8, new_tokens=4, warmups=0, reps=1, threads=1)
    suite = Suite(tiny, [CellSpec(UnconvertedEngine, "fp32")], workload, "test-machine",
                  tmp_path, timeout_s=60)
    (cell,) = suite.run().cells
    assert cell.status == "unsupported"
    assert "conversion peak" in cell.error and "this machine has 0.001 GB" in cell.error
    assert not artifacts.artifact_dir(tiny, UnconvertedEngine, "fp32").exists()


def test_is_cached_once_an_artifact_with_its_marker_is_in_place(tiny: Checkpoint,
                                                                tmp_path: Path) -> None:
    final = artifacts.artifact_dir(tiny, UnconvertedEngine, "int8")
    assert not artifacts.is_cached(tiny, UnconvertedEngine, "int8")
    tmp = tmp_path / "staged"
    tmp.mkdir()
    (tmp / "weights.bin").write_bytes(b"x" * 100)
    final.parent.mkdir(parents=True, exist_ok=True)
    artifacts.commit(tmp, final, 1.0)
    try:
        assert artifacts.is_cached(tiny, UnconvertedEngine, "int8")
        # a cheap check (no digests: verify hashes every file before use anyway); an
        # unreadable marker means the artifact is rebuilt, so its conversion counts
        (final / artifacts.MARKER).write_text("{")
        assert not artifacts.is_cached(tiny, UnconvertedEngine, "int8")
    finally:
        artifacts.discard(final)


def test_a_reference_that_cannot_fit_leaves_the_run_without_quality(
        tiny: Checkpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "machine_bytes", lambda: 10**6)
    workload = Workload(prompt_tokens=8, new_tokens=4, warmups=0, reps=1, threads=1)
    suite = Suite(tiny, [], workload, "test-machine", tmp_path, timeout_s=60, quality=True,
                  reference_engine=fe.LogitsEngine)
    run = suite.run()
    assert "needs ~" in run.quality["error"] and "this machine has" in run.quality["error"]


def test_accelerator_cells_are_not_estimated_against_host_memory(
        llama7b: Checkpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "machine_bytes", lambda: 10**6)
    assert memory.refusal(engine("torch"), llama7b, "fp16", CONTEXT, False, device="cuda") \
        is None
    assert memory.refusal(engine("torch"), llama7b, "fp16", CONTEXT, False) is not None


class NoInt8HereEngine(fe.ConvertingEngine):
    """Converts, and says before converting that this device has no int8 kernels."""

    name = "no-int8-here"

    @classmethod
    def device_problem(cls, precision: str, device: str) -> str | None:
        return f"no int8 kernels on this {device}" if precision == "int8" else None


def test_a_precision_the_device_lacks_is_refused_before_converting(
        tiny: Checkpoint, tmp_path: Path) -> None:
    workload = Workload(prompt_tokens=8, new_tokens=4, warmups=0, reps=1, threads=1)
    suite = Suite(tiny, [CellSpec(NoInt8HereEngine, "int8")], workload, "test-machine",
                  tmp_path, timeout_s=60)
    (cell,) = suite.run().cells
    assert (cell.status, cell.error) == ("unsupported", "no int8 kernels on this cpu")
    assert not artifacts.artifact_dir(tiny, NoInt8HereEngine, "int8").exists()


def test_ctranslate2_names_the_compute_types_this_cpu_has() -> None:
    ct2 = engine("ctranslate2")
    if not ct2.available():
        pytest.skip("ctranslate2 is not installed")
    import ctranslate2

    have = ctranslate2.get_supported_compute_types("cpu")
    for precision in ct2.precisions:
        why = ct2.device_problem(precision, "cpu")
        assert (why is None) == (precision in have), (precision, why)
        if why:
            assert precision in why and "supports on this cpu only" in why
