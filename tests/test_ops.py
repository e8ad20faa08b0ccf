"""Operator benchmarks: the cases and their float64 reference, every engine's ops against
it (tiny shapes, through the same child processes as `enginebench ops`), the roofline, the
results document, crash isolation and the command line."""

from pathlib import Path

import numpy as np
import pytest
from fake_engines import CrashingOps, WrongOps

from enginebench.cli import main
from enginebench.engines.registry import ENGINES, ops_class, ops_engines
from enginebench.errors import UserError
from enginebench.measure import roofline
from enginebench.measure.bandwidth import measure_bandwidth
from enginebench.measure.ops_suite import OpsSpec, run_ops
from enginebench.models.presets import PRESETS
from enginebench.ops.cases import TOLERANCE, model_cases, peak_case, reference
from enginebench.ops.timing import TimingPlan
from enginebench.results.schema import OpsRun
from enginebench.results.store import load_document, load_run

TINY = PRESETS["tiny"].config()
PLAN = TimingPlan(warmups=1, reps=3, min_sample_s=0.001)
# What the test demands of an engine's accuracy: the float classes within the published
# tolerance (an error there is the adapter's); the quantized classes only below the error
# of an output unrelated to the reference (a wrong layout or scale gives > 1). An engine's
# own int8/int4 loss on some CPU is a finding the ops table publishes (`correct` false),
# so the test passes on every CPU CI may land on.
TEST_BOUND = {"int8": 0.5, "int4": 0.5}
CASES = [peak_case(64), *model_cases(TINY, 16, 40)]


def _spec(engines: list, **kw: object) -> OpsSpec:
    return OpsSpec(engines, None, "tiny", TINY, prompt_tokens=16, context=40, peak_size=64,
                   plan=PLAN, threads=2, **kw)


@pytest.fixture(scope="module")
def bandwidth() -> dict:
    return measure_bandwidth(2, repeats=1, sizes_mb=(1, 8))


@pytest.fixture(scope="module")
def ops_run(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path,
            bandwidth: dict) -> tuple[OpsRun, Path]:
    """Every installed ops engine at every precision it declares, over the tiny cases."""
    engines = [c for c in map(ops_class, ops_engines()) if c.available()]
    return run_ops(_spec(engines), "test-machine", tmp_path_factory.mktemp("ops"),
                   lambda *_: None, bandwidth)


@pytest.mark.parametrize("engine,case", [(e, c.name) for e in ops_engines() for c in CASES])
def test_op_matches_float64_reference(ops_run: tuple[OpsRun, Path], engine: str,
                                      case: str) -> None:
    cls = ops_class(engine)
    if not cls.available():
        pytest.skip(f"{engine} is not installed: {cls.install}")
    op = next(c.op for c in CASES if c.name == case)
    results = [r for r in ops_run[0].results if r.engine == engine and r.case == case]
    assert sorted(r.precision for r in results) == sorted(
        p for p in cls.precisions if cls.supports(op, p))
    for r in results:
        assert r.max_rel_err is not None, f"{r.precision}: {r.status} {r.error}"
        assert r.correct is (r.max_rel_err <= TOLERANCE[r.precision])
        # past the tolerance the result is failed, with its figures kept
        assert r.status == ("ok" if r.correct else "failed"), r.error
        assert r.max_rel_err <= TEST_BOUND.get(r.precision, TOLERANCE[r.precision]), \
            f"{r.precision}: max relative error {r.max_rel_err:.2e}"
        assert len(r.time_us.samples) == PLAN.reps and r.time_us.median > 0
        assert r.gflops == pytest.approx(r.flops / r.time_us.median / 1e3)
        assert r.roofline_pct is not None and r.bound in ("compute", "memory")


def test_run_document(ops_run: tuple[OpsRun, Path], capsys: pytest.CaptureFixture) -> None:
    run, path = ops_run
    assert load_document(path) == run
    c = run.ceilings
    assert c.peak_case == "matmul.peak64" and c.peak_gflops["fp32"] > 0 and c.dram_gbs > 0
    fp32 = [r for r in run.results if r.case == c.peak_case and r.precision == "fp32"
            and r.gflops]
    best = max(fp32, key=lambda r: r.flops / min(r.time_us.samples))
    assert c.peak_gflops["fp32"] == pytest.approx(best.flops / min(best.time_us.samples) / 1e3)
    assert c.peak_engine["fp32"] == best.engine and c.peak_gflops["fp32"] >= best.gflops
    assert "ctranslate2" in run.no_op_api
    with pytest.raises(UserError, match="an ops run"):
        load_run(path)
    assert main(["show", str(path), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + len(run.results) and lines[0].startswith("run_id,machine")


def test_reference_semantics() -> None:
    """The reference is the yardstick: check it against what the ops mean."""
    by = {c.name: c for c in model_cases(TINY, 16, 40)}
    prefill = by["sdpa.prefill"]
    a = prefill.make_inputs()
    out = reference(prefill, a)
    # causal: query 0 sees key 0 only; query head 1 uses kv head 0 (group of 2)
    np.testing.assert_allclose(out[1, 0], a["v"][0, 0], rtol=1e-12)
    decode = by["sdpa.decode"]
    a = decode.make_inputs()
    s = a["q"][3, 0].astype(np.float64) @ a["k"][1].T.astype(np.float64) * decode.params["scale"]
    w = np.exp(s - s.max())
    np.testing.assert_allclose(reference(decode, a)[3, 0], w / w.sum() @ a["v"][1], rtol=1e-9)
    norm = by["rmsnorm"]
    a = {**norm.make_inputs(), "weight": np.ones(64, np.float32)}
    np.testing.assert_allclose(np.sqrt((reference(norm, a) ** 2).mean(-1)), 1, rtol=1e-4)
    rope = by["rope"]
    a = rope.make_inputs()
    np.testing.assert_allclose(reference(rope, a)[0], a["x"][0], rtol=1e-6)  # position 0
    np.testing.assert_allclose(np.linalg.norm(reference(rope, a), axis=-1),
                               np.linalg.norm(a["x"], axis=-1), rtol=1e-6)


def test_flops_and_bytes() -> None:
    mm = next(c for c in model_cases(TINY, 16, 40) if c.name == "matmul.mlp_up")
    assert mm.flops == 2 * 16 * 64 * 192
    assert mm.bytes("fp32") == 4 * (16 * 64 + 192 * 64 + 16 * 192)
    assert mm.bytes("int4") == 4 * (16 * 64 + 16 * 192) + 192 * 64 / 2


def test_roof() -> None:
    bw = {"points": [{"bytes": 1 << 20, "copy_gbs": 100.0, "triad_gbs": 100.0, "read_gbs": 120.0},
                     {"bytes": 1 << 30, "copy_gbs": 10.0, "triad_gbs": 10.0, "read_gbs": 12.0}]}
    # intensity 1 with a DRAM-sized working set: bandwidth-bound at 12 GFLOP/s
    assert roofline.roof(2e9, 2e9, 50.0, bw) == (12.0, "memory")
    # the same intensity from cache: 120 GB/s, above the 50 GFLOP/s peak
    assert roofline.roof(2e6, 2e6, 50.0, bw) == (50.0, "compute")
    assert roofline.op_implausible(110, 1e3, "memory", bw) is None
    assert "below the smallest measured" in roofline.op_implausible(300, 1e3, "memory", bw)
    assert "peak matmul was measured below" in roofline.op_implausible(300, 1e9, "compute", bw)


def test_crash_keeps_the_cases_before_it(tmp_path: Path, cache_dir: Path) -> None:
    run, path = run_ops(_spec([CrashingOps]), "test-machine", tmp_path, lambda *_: None)
    status = {r.case: r for r in run.results}
    assert [r.case for r in run.results] == [c.name for c in CASES]
    before = [c.name for c in CASES[:CASES.index(next(c for c in CASES if c.op == "softmax"))]]
    assert all(status[n].status == "ok" and status[n].correct for n in before)
    assert status["softmax"].status == "failed"
    assert "process ended before this case" in status["softmax"].error
    assert "SIGSEGV" in status["softmax"].error
    assert load_document(path).results == run.results


def test_wrong_result_is_failed(tmp_path: Path, cache_dir: Path) -> None:
    run, _ = run_ops(_spec([WrongOps], ops=["rmsnorm", "softmax"]), "test-machine",
                     tmp_path, lambda *_: None)
    status = {r.case: r for r in run.results}
    assert status["rmsnorm"].status == "failed" and "wrong result" in status["rmsnorm"].error
    assert status["softmax"].status == "ok"


@pytest.mark.parametrize("args,message", [
    (["--precisions", "fp64"], "unknown precision 'fp64'"),
    (["--ops", "gelu"], "unknown op or case 'gelu'"),
    (["--engines", "ctranslate2"], "no ops adapter for engine 'ctranslate2' (CTranslate2"),
    (["--model", "/nonexistent"], "neither a preset"),
    (["--reps", "0"], "--reps must be at least 1"),
])
def test_ops_command_errors(args: list[str], message: str,
                            capsys: pytest.CaptureFixture) -> None:
    assert main(["ops", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_list_shows_both_faces(capsys: pytest.CaptureFixture) -> None:
    """`enginebench list` names every registered engine, op-only ones (numpy) included, and
    says why an engine has no op face, from its adapter."""
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ENGINES) and "no op-level API" in out
