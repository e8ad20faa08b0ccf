"""The charts say what they encode: the Pareto charts' precision class as colour and shape,
the quality gate as fill and as the KL chart's band, the front labelled, points linking
to their run, the reference's KL of 0 explained; a chart with nothing to compare is a
sentence; the versions panel of Trends only where an engine changed version."""

from datetime import datetime
from pathlib import Path

from synthetic_runs import synthetic_run

from enginebench.results.quality_gate import KL_MEAN_MAX, gate
from enginebench.results.store import run_path, save_run
from enginebench.site import charts
from enginebench.site.build import build_site


def _layers(spec: dict) -> list[dict]:
    return spec["layer"]


def test_pareto_encodes_class_gate_labels_and_links() -> None:
    run = synthetic_run("m", datetime(2026, 1, 1), seed=1)
    drawn, sentences = charts.pareto_charts(run, "../runs/r.html")
    assert sentences == [] and [t for t, _ in drawn] == [
        "peak RSS MB", "KL from fp32 (log; lower is better)"]
    memory, kl = (spec for _, spec in drawn)
    for spec in (memory, kl):
        points = spec["datasets"]["points"]
        enc = next(layer["encoding"] for layer in _layers(spec) if "shape" in
                   layer.get("encoding", {}))
        assert enc["color"]["field"] == enc["shape"]["field"] == "pclass"
        assert enc["shape"]["scale"]["domain"] == list(charts.CLASS_SHAPES)
        assert len(set(charts.CLASS_SHAPES.values())) == len(charts.CLASS_SHAPES)
        assert enc["fill"]["condition"]["test"] == "datum.counts"
        ok = {f"{c.engine} {c.precision}": c for c in run.headline_cells()
              if c.status == "ok" and not c.implausible}
        for p in points:
            assert p["counts"] == (gate(ok[p["cell"]]) in ("pass", "reference"))
            assert p["href"] == "../runs/r.html"
        assert any(not p["counts"] for p in points) and any(p["counts"] for p in points)
        labels = next(layer for layer in _layers(spec) if layer["mark"]["type"] == "text"
                      and layer["data"]["name"] == "front")
        assert labels["encoding"]["text"]["field"] == "cell" and spec["datasets"]["front"]
    assert kl["datasets"]["gate"][0]["hi"] == KL_MEAN_MAX
    # the reference against itself: a KL of 0 sits on the log axis's floor, and its
    # tooltip says what it is and why it is drawn there
    ref = next(c for c in run.cells if (c.engine, c.precision) == ("torch", "fp32"))
    assert ref.quality is not None
    ref.quality.kl_mean, ref.quality.reference = 0.0, f"torch fp32 {ref.engine_version}"
    points = charts.pareto_charts(run, "r.html")[0][1][1]["datasets"]["points"]
    p = next(p for p in points if p["cell"] == "torch fp32")
    assert p["kl"] == charts.KL_FLOOR and p["counts"] and p["gate"] == "the reference"
    assert "reference against itself" in p["kl_text"] and "log axis has no 0" in p["kl_text"]
    assert "gate" not in memory["datasets"]


def test_a_chart_of_one_point_is_a_sentence() -> None:
    run = synthetic_run("m", datetime(2026, 1, 1), seed=1)
    run.cells = [c for c in run.cells if (c.engine, c.precision) == ("torch", "fp32")]
    drawn, sentences = charts.pareto_charts(run, "x.html")
    assert drawn == [] and len(sentences) == 2
    assert all("only torch fp32" in s and "nothing to compare" in s for s in sentences)


def test_the_versions_panel_only_where_an_engine_changed_version() -> None:
    same = [synthetic_run("m", datetime(2026, 1, d), seed=d) for d in (1, 2)]
    spec = charts.trends_chart(same, "{run_id}.html")
    assert spec is not None and len(spec["vconcat"]) == 2
    changed = [synthetic_run("m", datetime(2026, 1, d), seed=d,
                             versions={"torch": f"2.{d}.0"}) for d in (1, 2)]
    spec = charts.trends_chart(changed, "{run_id}.html")
    assert spec is not None and len(spec["vconcat"]) == 3


def test_a_model_with_one_run_gets_a_sentence_not_a_trend(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    results = tmp_path / "data" / "results"
    for day, model in ((1, "small"), (2, "small"), (3, "tiny")):
        run = synthetic_run("m", datetime(2026, 1, day), seed=day, model=model)
        save_run(run, run_path(results, run))
    build_site(root, tmp_path / "data", tmp_path / "out", docs=tmp_path / "docs",
               claims=root / "data" / "features.yaml")
    page = (tmp_path / "out" / "trends" / "m.html").read_text()
    assert page.count('class="eb-chart-spec"') == 1  # small's two runs: one chart
    assert "One run so far (2026-01-03): a trend needs a second" in page
