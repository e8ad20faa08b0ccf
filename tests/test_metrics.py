"""The harness's metrics from known timestamps, with exact expected values."""

import pytest

from enginebench.measure.metrics import Trace, cell_metrics, rep_metrics
from enginebench.results.stats import summarize


def test_rep_metrics_from_known_timestamps() -> None:
    trace = Trace(start=10.0, times=[10.5, 10.6, 10.7, 10.8], ids=[1, 2, 3, 4])
    m = rep_metrics(trace, prompt_tokens=100)
    assert m.ttft_ms == pytest.approx(500.0)
    assert m.prefill_tps == pytest.approx(200.0)  # 100 tokens / 0.5 s
    assert m.decode_tps == pytest.approx(10.0)  # 3 tokens / 0.3 s
    assert m.e2e_ms == pytest.approx(800.0)
    assert m.itl_ms == pytest.approx([100.0, 100.0, 100.0])


def test_summary_statistics() -> None:
    s = summarize([10.0, 12.0, 14.0])
    assert s["median"] == 12.0
    assert s["mean"] == 12.0
    assert s["sd"] == pytest.approx(2.0)
    half = 4.302652729911275 * 2.0 / 3**0.5  # t(0.975, df=2) * sd / sqrt(n)
    assert s["ci95"] == pytest.approx([12.0 - half, 12.0 + half])
    assert s["cv"] == pytest.approx(2.0 / 12.0)
    assert s["samples"] == [10.0, 12.0, 14.0]
    assert s["outliers"] == []


def test_outliers_are_flagged_not_dropped() -> None:
    s = summarize([10.0, 10.5, 10.0, 9.5, 100.0])
    assert s["outliers"] == [4]
    assert len(s["samples"]) == 5
    assert s["mean"] == pytest.approx(28.0)


def test_spread_between_rounds_beside_spread_within() -> None:
    s = summarize([10.0, 11.0, 20.0, 21.0], rounds=[0, 0, 1, 1])
    assert s["round_medians"] == [10.5, 20.5]
    sd = (2 * 5.0**2) ** 0.5  # stdev of [10.5, 20.5]
    assert s["round_cv"] == pytest.approx(sd / 15.5)
    assert summarize([1.0, 2.0])["round_cv"] is None


def test_cell_metrics_pool_repetitions() -> None:
    traces = [Trace(0.0, [0.1, 0.2, 0.3], [5, 6, 7]), Trace(1.0, [1.2, 1.3, 1.5], [5, 6, 7])]
    m = cell_metrics(traces, [0, 0], prompt_tokens=10)
    assert m["ttft_ms"]["samples"] == pytest.approx([100.0, 200.0])
    assert m["prefill_tps"]["samples"] == pytest.approx([100.0, 50.0])
    assert m["decode_tps"]["samples"] == pytest.approx([10.0, 2 / 0.3])
    assert m["itl_ms"]["p50"] == pytest.approx(100.0)
    assert m["itl_ms"]["p99"] == pytest.approx(197.0)  # numpy linear interpolation
