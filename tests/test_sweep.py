"""Sweeps and batches: comma lists crossed into points, each point a cell of its own; the
batch contract (B sequences of exactly N ids each, aggregate and per-sequence rates); at
fp32 every sequence of a batch must give the reference's greedy ids for its prompt; a
prompt past the model's context is one clear line."""

import argparse
from pathlib import Path

import pytest
from fake_engines import BatchEngine, FakeEngine, ShortSequenceBatchEngine, SwappedBatchEngine

from enginebench import cli
from enginebench.engines.registry import engine_class, model_engines
from enginebench.errors import UserError
from enginebench.measure.roofline import decode_bytes_per_token
from enginebench.measure.suite import CellSpec, Suite
from enginebench.measure.workload import Point, Workload, batch_prompts, prompt_ids
from enginebench.models.checkpoint import Checkpoint
from enginebench.results.schema import DEFAULT_POINT, Run
from enginebench.results.store import load_run


def test_comma_lists_parse_and_bad_ones_say_what_to_give() -> None:
    assert cli.int_list("128") == (128,)
    assert cli.int_list("128,512,2048") == (128, 512, 2048)
    with pytest.raises(argparse.ArgumentTypeError, match="comma list"):
        cli.int_list("128,,512")
    with pytest.raises(argparse.ArgumentTypeError, match="whole number"):
        cli.int_list("1k")


def test_points_are_the_cartesian_product_in_the_order_given() -> None:
    w = Workload(prompt_tokens=(512, 128), new_tokens=(64,), batch=(1, 4))
    assert w.points() == [Point(512, 64, 1), Point(512, 64, 4), Point(128, 64, 1),
                          Point(128, 64, 4)]
    assert w.longest == 512 + 64
    assert Workload(prompt_tokens=8, new_tokens=4).points() == [Point(8, 4, 1)]
    doc = w.to_dict()
    assert (doc["prompt_tokens"], doc["new_tokens"], doc["batch"]) == (512, 64, 1)
    assert len(doc["points"]) == 4
    for bad, message in [(Workload(batch=(0,)), "--batch must be at least 1"),
                         (Workload(prompt_tokens=(128, 128)), "repeats a value"),
                         (Workload(new_tokens=(1,)), "--new-tokens must be at least 2")]:
        with pytest.raises(UserError, match=message):
            bad.validate()


def test_batch_prompts_differ_from_their_first_id_and_grow_as_prefixes(tiny: Checkpoint
                                                                       ) -> None:
    short, long = batch_prompts(tiny, 12, 8), batch_prompts(tiny, 40, 8)
    assert short[0] == prompt_ids(tiny, 12)
    lead = len(prompt_ids(tiny, 1)) if prompt_ids(tiny, 1) == [tiny.config.bos_token_id] \
        else 0
    assert len({p[lead] for p in short}) == 8  # no two share more than the leading ids
    assert all(len(p) == 12 for p in short)
    assert [p[:12] for p in long] == short  # a point of P ids takes the first P
    assert batch_prompts(tiny, 12, 3) == short[:3]


def test_a_prompt_past_the_context_is_one_line(capsys: pytest.CaptureFixture) -> None:
    code = cli.main(["run", "--model", "small", "--prompt-tokens", "128,2000",
                     "--new-tokens", "128", "--engines", "torch"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "max_position_embeddings" in err and "2048" in err and "1920" in err


def test_profiles_take_lists(tmp_path: Path) -> None:
    from enginebench.profile import load_profile

    (tmp_path / "profile.yaml").write_text(
        "description: t\nmodels: [small]\nprompt_tokens: [128, 512]\nbatch: [1, 4]\n")
    options = load_profile(tmp_path).options()
    assert options["prompt_tokens"] == [128, 512] and options["batch"] == [1, 4]


def _sweep(tiny: Checkpoint, tmp_path: Path, specs: list[CellSpec], **kw) -> Run:
    workload = Workload(prompt_tokens=(8, 12), new_tokens=(4,), warmups=0, reps=2, threads=1,
                        batch=(1, 3))
    suite = Suite(tiny, specs, workload, "test-machine", tmp_path, timeout_s=60, **kw)
    suite.run()
    return load_run(suite.path)


def test_a_wrong_count_in_one_sequence_fails_that_cell_only(tiny: Checkpoint,
                                                            tmp_path: Path) -> None:
    run = _sweep(tiny, tmp_path, [CellSpec(BatchEngine, "fp32"),
                                  CellSpec(ShortSequenceBatchEngine, "fp32"),
                                  CellSpec(FakeEngine, "fp32")])
    assert len(run.cells) == 3 * 4  # 3 engines x (2 prompt lengths x 2 batch sizes)
    by = {(c.engine, run.point(c).prompt_tokens, run.point(c).batch): c for c in run.cells}
    for p in (8, 12):
        short = by[("shortbatch", p, 3)]
        assert short.status == "failed"
        assert short.error == ("repetition 1, sequence 3, returned 3 ids; expected "
                               "exactly 4")
        assert by[("shortbatch", p, 1)].status == "ok"  # its one-sequence cells stand
        assert by[("fakebatch", p, 3)].status == "ok", by[("fakebatch", p, 3)].error
        single = by[("fake", p, 3)]
        assert single.status == "unsupported"
        assert single.error == "batch 3: fake the adapter generates one sequence at a time"
        assert by[("fake", p, 1)].status == "ok"


def test_batch_rates_are_aggregate_and_per_sequence(tiny: Checkpoint, tmp_path: Path
                                                    ) -> None:
    run = _sweep(tiny, tmp_path, [CellSpec(BatchEngine, "fp32")])
    by = {(run.point(c).prompt_tokens, run.point(c).batch): c.metrics for c in run.cells}
    # 10 ms a step whatever B; 50 ms prefill: aggregate = B x per sequence
    one, three = by[(12, 1)], by[(12, 3)]
    assert one.decode_tps.median == pytest.approx(100, rel=1e-6)
    assert one.seq_decode_tps is None  # at B = 1 it is decode_tps
    assert three.decode_tps.median == pytest.approx(300, rel=1e-6)
    assert three.seq_decode_tps.median == pytest.approx(100, rel=1e-6)
    assert three.prefill_tps.median == pytest.approx(3 * 12 / 0.050, rel=1e-3)
    assert three.ttft_ms.median == pytest.approx(50, rel=1e-3)
    assert run.headline_point() == run.point(run.cells[0])  # no pp128 tg128 b1: the first
    assert [c.point.label for c in run.cells] == ["pp8 tg4 b1", "pp8 tg4 b3", "pp12 tg4 b1",
                                                  "pp12 tg4 b3"]
    assert len(run.workload.points) == 4 and len(run.workload.batch_prompt_ids) == 3


def test_old_files_give_their_workload_as_the_point(tiny: Checkpoint, tmp_path: Path
                                                    ) -> None:
    run = _sweep(tiny, tmp_path, [CellSpec(BatchEngine, "fp32")])
    doc = run.model_dump(mode="json")
    doc["workload"] = {k: v for k, v in doc["workload"].items()
                       if k not in ("points", "batch", "batch_prompt_ids")}
    for cell in doc["cells"]:
        del cell["point"], cell["first_diffs"]
    old = Run.model_validate(doc)
    assert {old.point(c) for c in old.cells} == {old.point(old.cells[0])}
    assert old.point(old.cells[0]).batch == 1
    assert old.headline_cells() == old.cells


def test_the_roofline_counts_each_sequence_kv_cache_and_the_weights_once(
        tiny: Checkpoint) -> None:
    one = decode_bytes_per_token(tiny.config, "fp32", 100, 8)
    four = decode_bytes_per_token(tiny.config, "fp32", 100, 8, batch=4)
    kv = decode_bytes_per_token(tiny.config, "fp32", 200, 8) - one  # 100 positions more
    weights = one - kv * (100 + 3.5) / 100
    assert four == pytest.approx(weights / 4 + kv * (100 + 3.5) / 100)
    assert DEFAULT_POINT.label == "pp128 tg128 b1"


def test_fp32_batches_give_each_prompt_the_reference_ids(tiny: Checkpoint, tmp_path: Path
                                                         ) -> None:
    torch_cls = engine_class("torch")
    if not torch_cls.available():
        pytest.skip("torch (the reference) is not installed")
    run = _sweep(tiny, tmp_path, [CellSpec(torch_cls, "fp32"),
                                  CellSpec(SwappedBatchEngine, "fp32")], quality=True)
    by = {(c.engine, run.point(c).prompt_tokens, run.point(c).batch): c for c in run.cells}
    for p in (8, 12):
        for b in (1, 3):
            cell = by[("torch", p, b)]
            assert cell.status == "ok", cell.error
            assert cell.first_diffs == [None] * b
        swapped = by[("swapped", p, 3)]
        assert swapped.status == "failed" and swapped.error.startswith("wrong output:")
        assert "sequence 1" in swapped.error
        assert by[("swapped", p, 1)].status == "ok"
    # quality is measured once per engine x precision, at the first point here
    assert [c.quality is not None for c in run.cells if c.engine == "torch"] == \
        [True, False, False, False]


def test_every_engine_has_a_batched_path_or_says_why() -> None:
    for name in model_engines():
        cls = engine_class(name)
        if cls.no_batch is None:
            assert "generate_batch" in {k for c in cls.__mro__[:-1] for k in vars(c)
                                        if c.__name__ != "Engine"}, name
        else:
            assert len(cls.no_batch) > 20, name
