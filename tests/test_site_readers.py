"""What a reader of the site is told (issue 20's glitches, each with the test that would
have caught it): the machine's memory bandwidth as DRAM and cache figures; bold only for
cells past the quality gate, the fp32 reference labelled as such; a note every cell carries
said once; no peak memory for a cell that did not run; an asv run's page without "None
physical", "0 ids" or an empty Engines table; operator runs in the runs index."""

import gzip
import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from synthetic_runs import asv_results_file, sample_cell, sample_run, synthetic_ops_run

from enginebench.results.quality_gate import KL_MEAN_MAX, TOP1_MIN_PCT, gate
from enginebench.results.schema import Cell, Metrics, Quality
from enginebench.results.stats import summarize
from enginebench.results.store import run_path, save_run
from enginebench.results.verdicts import class_verdicts
from enginebench.site.build import build_site
from enginebench.site.pages import (
    bandwidth_text,
    data_scope,
    grouped_notes,
    machine_summary,
    model_card,
)
from enginebench.site.tables import cell_table

ROOT = Path(__file__).resolve().parent.parent

# the AMD EPYC machine's measured points (2026-12-05): 8 MB sits in cache, 2 GB in DRAM
AMD_POINTS = [
    {"bytes": 8388608, "copy_gbs": 155.43, "triad_gbs": 171.54, "read_gbs": 144.84},
    {"bytes": 33554432, "copy_gbs": 85.35, "triad_gbs": 90.66, "read_gbs": 92.06},
    {"bytes": 2147483648, "copy_gbs": 34.64, "triad_gbs": 36.12, "read_gbs": 37.26},
]


def _with_bandwidth(points: list[dict]) -> object:
    run = sample_run("r", [sample_cell("torch", [10.0, 11.0, 12.0])])
    run.environment["memory_bandwidth"] = {"points": points}
    return run


def test_bandwidth_header_gives_dram_and_cache_apart() -> None:
    """The header once said 'memory bandwidth up to 172 GB/s', the cache figure."""
    text = bandwidth_text(_with_bandwidth(list(reversed(AMD_POINTS))))  # any order
    assert text == ("DRAM bandwidth 37 GB/s (2 GB working set), cache 172 GB/s (8 MB "
                    "working set); STREAM-style, measured with the run")


def test_bandwidth_header_with_one_point_or_none() -> None:
    assert bandwidth_text(_with_bandwidth(AMD_POINTS[2:])).startswith(
        "DRAM bandwidth 37 GB/s (2 GB working set);")
    assert bandwidth_text(sample_run("r", [])) == ""


def _quality_cell(engine: str, precision: str, pclass: str, decode: float,
                  kl: float | None = None, top1: float = 100.0) -> Cell:
    """A cell at `decode` tok/s; with `kl`, measured against the torch fp32 reference."""
    cell = sample_cell(engine, [decode * 0.99, decode, decode * 1.01])
    quality = None if kl is None else Quality(
        reference="torch fp32 1", tokens=512, kl_mean=kl, kl_p99=kl * 3,
        top1_agree_pct=top1, max_abs_logit_err=0.1, first_diff_token=None, seconds=1.0)
    return cell.model_copy(update={"precision": precision, "precision_class": pclass,
                                   "quality": quality})


def _row(table, engine: str, precision: str):
    [row] = [r for r in table.rows if (r.engine, r.precision) == (engine, precision)]
    return dict(zip(table.headers, row.entries, strict=True)), row


def test_bold_never_crowns_a_cell_below_the_quality_gate() -> None:
    """A 4-bit cell with 44% top-1 agreement was bold for the fastest decode; now the
    fastest cell past the gate is, and the 4-bit one says why it is not."""
    cells = [_quality_cell("torch", "fp32", "fp32", 40.0, kl=0.0),  # the reference
             _quality_cell("llamacpp", "q4_0", "int4", 450.0, kl=0.563, top1=44.4),
             _quality_cell("llamacpp", "q8_0", "int8", 300.0, kl=0.0046, top1=94.0),
             _quality_cell("candle", "q4_k_m", "int4", 400.0, kl=0.05, top1=88.0),
             _quality_cell("onnxruntime", "int4", "int4", 500.0),  # quality not measured
             _quality_cell("ctranslate2", "float32", "fp32", 60.0)]  # fp32, not measured
    table = cell_table(cells)
    decode = "decode tok/s (median ± sd)"
    bold = [(r.engine, r.precision) for r in table.rows
            if dict(zip(table.headers, r.entries, strict=True))[decode].best]
    assert bold == [("candle", "q4_k_m")]  # 400 passes; 450 fails, 500 is unmeasured
    entries, row = _row(table, "llamacpp", "q4_0")
    assert row.status == "ok, below quality gate"
    assert "KL mean 0.563 > 0.1, top-1 44.4% < 85%" in row.reason
    assert any("llamacpp q4_0: below the quality gate" in n for n in table.notes)
    assert not entries["top-1 %"].best and not entries["KL mean"].best


def test_the_reference_is_labelled_not_crowned_in_quality_columns() -> None:
    cells = [_quality_cell("torch", "fp32", "fp32", 40.0, kl=0.0),
             _quality_cell("llamacpp", "q8_0", "int8", 300.0, kl=0.0046, top1=94.0),
             _quality_cell("candle", "q8_0", "int8", 250.0, kl=0.0056, top1=93.0)]
    table = cell_table(cells)
    ref, row = _row(table, "torch", "fp32")
    assert ref["KL mean"].text == "reference" and not ref["KL mean"].best
    assert ref["top-1 %"].text == "reference" and row.status == "ok"
    q8, _ = _row(table, "llamacpp", "q8_0")
    assert q8["KL mean"].best and q8["top-1 %"].best  # best among the others
    assert q8["decode tok/s (median ± sd)"].best  # speed: the reference competes as usual


def test_gate_rule_at_its_thresholds() -> None:
    at = _quality_cell("a", "q4_k_m", "int4", 1.0, kl=KL_MEAN_MAX, top1=TOP1_MIN_PCT)
    over = _quality_cell("a", "q4_k_m", "int4", 1.0, kl=KL_MEAN_MAX * 1.01, top1=99.0)
    under = _quality_cell("a", "q4_k_m", "int4", 1.0, kl=0.0, top1=TOP1_MIN_PCT - 0.1)
    assert (gate(at), gate(over), gate(under)) == ("pass", "fail", "fail")
    assert gate(_quality_cell("torch", "fp32", "fp32", 1.0, kl=0.0)) == "reference"
    assert gate(_quality_cell("a", "int8", "int8", 1.0)) == "unmeasured"


def test_one_note_on_every_cell_is_one_line() -> None:
    named = [(f"engine{i} fp32", "from asv: medians only") for i in range(40)]
    named += [("torch fp32", "compiled"), ("candle f32", "compiled")]
    assert grouped_notes(named) == [("40 cells", "from asv: medians only"),
                                    ("torch fp32, candle f32", "compiled")]


def test_a_cell_that_did_not_run_shows_no_peak_memory() -> None:
    failed = sample_cell("burn", [1.0], status="timeout").model_copy(
        update={"metrics": Metrics(peak_rss_mb=812.0)})
    ok = sample_cell("torch", [10.0, 11.0, 12.0], rss=500.0)
    table = cell_table([ok, failed])
    rss = table.headers.index("peak RSS MB")
    assert [r.entries[rss].text for r in table.rows] == ["500", ""]


def test_asv_run_page_and_the_runs_index(tmp_path: Path) -> None:
    """An asv run's page says what its file does not record (no "None physical", no "0
    ids", no empty Engines table, asv's note once), and the runs index lists ops runs."""
    data = tmp_path / "data"
    figures = {(f"{e} fp32", "tiny", "pp16 tg8 w0 r1 t1"):
               {"decode_tps": d, "prefill_tps": 900.0, "ttft_ms": 14.0, "peak_rss_mb": 400.0}
               for e, d in (("torch", 60.0), ("onnxruntime", 90.0), ("tinygrad", 20.0),
                            ("candle", 70.0))}
    params = [[c for c, _, _ in figures], ["tiny"], ["pp16 tg8 w0 r1 t1"]]
    asv_results_file(figures, params, data / "asv" / "results" / "cpu-x", "c" * 40)
    ops = synthetic_ops_run("cpu-x", datetime(2026, 1, 9, 4), seed=5)
    save_run(ops, run_path(data / "results", ops))
    shutil.copy(ROOT / "data" / "features.yaml", data / "features.yaml")
    build_site(ROOT, data, tmp_path / "out", docs=tmp_path / "docs")
    [page] = (tmp_path / "out" / "runs").glob("asv-*.html")
    text = page.read_text()
    for wrong in ("None physical", "0 ids", "None logical"):
        assert wrong not in text
    assert "2 logical" in text and "not recorded in this run" in text
    assert "asv's results keep the figures only" in text
    assert text.count("from asv: the median of each figure only") == 1
    # its document and cells are published beside it, and linked
    doc = json.loads(gzip.decompress(page.with_suffix(".json.gz").read_bytes()))
    assert doc["run_id"] == page.stem and len(doc["cells"]) == 4
    csv_rows = page.with_suffix(".csv").read_text().splitlines()
    assert len(csv_rows) == 5 and any("onnxruntime" in r for r in csv_rows[1:])
    assert f'href="{page.stem}.json.gz"' in text and f'href="{page.stem}.csv"' in text
    index = (tmp_path / "out" / "runs" / "index.html").read_text()
    assert "Operator runs" in index and ops.run_id in index
    assert 'href="../ops/cpu-x.html"' in index
    # Home's verdict: asv's one figure a cell gives no interval, so the lead is a tie
    home = (tmp_path / "out" / "index.html").read_text()
    verdicts = home.split('class="eb-verdicts"', 1)[1].split("</table>", 1)[0]
    assert "<strong>onnxruntime fp32</strong>" in verdicts
    assert "tie with candle fp32 x1.29; torch fp32 x1.50; tinygrad fp32 x4.50" in verdicts


def _rated(engine: str, precision: str, pclass: str, rates: list[float], **quality) -> Cell:
    cell = _quality_cell(engine, precision, pclass, 1.0, **quality)
    return cell.model_copy(update={"metrics": Metrics(decode_tps=summarize(rates))})


def test_verdict_per_class_with_clear_leads_and_ties() -> None:
    """int8: two cells 1% apart tie (within the 3% floor); fp32: a 50% lead is clear; int4:
    the only cell past the gate is the verdict, the faster one below the gate is named."""
    cells = [
        _rated("torch", "fp32", "fp32", [40, 41, 42, 40.5, 41.5], kl=0.0),
        _rated("llamacpp", "f32", "fp32", [60, 61, 62, 60.5, 61.5], kl=0.0, top1=99.9),
        _rated("llamacpp", "q8_0", "int8", [100, 101, 102, 100.5, 101.5], kl=0.005, top1=94),
        _rated("candle", "q8_0", "int8", [99, 100, 101, 99.5, 100.5], kl=0.006, top1=93),
        _rated("llamacpp", "q4_0", "int4", [200, 201, 202, 200.5, 201.5], kl=0.56, top1=44),
        _rated("candle", "q4_k_m", "int4", [150, 151, 152, 150.5, 151.5], kl=0.05, top1=88),
        _rated("onnxruntime", "int4", "int4", [300, 301, 302, 300.5, 301.5]),  # unmeasured
    ]
    by_class = {v.precision_class: v for v in class_verdicts(cells, noise_pct=3.0)}
    assert list(by_class) == ["fp32", "int8", "int4"]
    fp32 = by_class["fp32"]
    assert (fp32.fastest.engine, [lead.outcome for lead in fp32.leads]) == \
        ("llamacpp", ["clear"])
    assert fp32.leads[0].ratio == pytest.approx(61 / 41) and fp32.leads[0].ci95[0] > 1
    int8 = by_class["int8"]
    assert int8.fastest.engine == "llamacpp" and [c.engine for c in int8.tied] == ["candle"]
    int4 = by_class["int4"]
    assert (int4.fastest.engine, int4.fastest.precision, int4.leads) == \
        ("candle", "q4_k_m", [])
    assert [(c.engine, c.precision) for c in int4.uncrowned] == \
        [("llamacpp", "q4_0"), ("onnxruntime", "int4")]


def test_one_sample_a_side_is_a_tie_never_a_win() -> None:
    """asv's runs keep one figure per cell: no interval, so no lead is called clear."""
    cells = [_rated("a", "fp32", "fp32", [100.0]), _rated("b", "fp32", "fp32", [50.0])]
    [v] = class_verdicts(cells, noise_pct=3.0)
    assert v.fastest.engine == "a" and [lead.outcome for lead in v.leads] == ["tie"]


def test_model_card_says_what_the_weights_mean() -> None:
    run = sample_run("r", [])
    run.model.update(architecture="LlamaForCausalLM", params=58_466_816, num_layers=8,
                     hidden_size=512, num_heads=8, num_kv_heads=8, intermediate_size=1408,
                     vocab_size=32000, trained=False,
                     config={"max_position_embeddings": 2048})
    card = model_card(run)
    assert card.startswith("small: LlamaForCausalLM · 58.5M parameters · 8 layers, 512 "
                           "hidden, 8 heads, 8 KV heads, 1408 FFN, 32000 vocab, 2048 context")
    assert "random weights" in card and "not language quality" in card
    run.model.update(trained=True, params=6_738_415_616)
    assert "6.74B parameters" in model_card(run) and "trained weights" in model_card(run)
    del run.model["trained"]
    assert "weights: not recorded" in model_card(run)


def test_machine_card_says_it_is_a_vm() -> None:
    run = _with_bandwidth(AMD_POINTS)
    assert "virtual machine" not in machine_summary(run)
    run.environment["cpu_flags_all"] = ["sse2", "hypervisor"]
    summary = machine_summary(run)
    assert "a virtual machine (the CPU reports a hypervisor)" in summary
    assert "DRAM bandwidth 37 GB/s" in summary


def test_home_says_all_data_is_cpu_only() -> None:
    run = _with_bandwidth(AMD_POINTS)
    run.environment["cpu_flags_all"] = ["hypervisor"]
    assert data_scope([run]) == ("Every figure here so far is from CPUs only, no GPU, on "
                                 "machines of 2 logical cores, all of them virtual machines: "
                                 "read them as such, not as what a GPU or a large server does.")
    run.machine.gpu = ["NVIDIA H100"]
    assert data_scope([run]) == ""
