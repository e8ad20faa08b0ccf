"""The data of the site's compare view: each run's cells as a small JSON file (published
beside the run's page: its table as JSON, and what the view fetches), and the catalogue of
runs the view picks from, with each machine's noise floor and ready-made pairs (two
engines, two machines, two dates). The view itself (assets/compare.js) puts two sides'
cells beside each other with ratios and compare's verdict rule."""

import math

from enginebench.results.compare import (
    MIN_SAMPLES,
    RESAMPLES,
    model_fingerprint,
    previous_run,
)
from enginebench.results.noise import NoiseFloor
from enginebench.results.quality_gate import gate
from enginebench.results.schema import Cell, Run, Stat
from enginebench.results.verdicts import class_verdicts
from enginebench.site.charts import finite
from enginebench.site.records import Results, model_name, slug

# the bootstrap the view draws: the same resamples as `enginebench compare`, its own seed
SEED = 0


def _samples(stat: Stat | None) -> list[float]:
    if stat is None:
        return []
    return [round(v, 6) for v in stat.samples if math.isfinite(v)] or (
        [round(stat.median, 6)] if math.isfinite(stat.median) else [])


def cell_record(run: Run, c: Cell) -> dict:
    """One cell as the compare view reads it: what it is, its samples, memory, quality."""
    m, q = c.metrics, c.quality
    return {"engine": c.engine, "precision": c.precision, "pclass": c.precision_class,
            "device": c.device, "point": run.point(c).label, "status": c.status,
            "implausible": bool(c.implausible), "gate": gate(c),
            "decode": _samples(m.decode_tps), "prefill": _samples(m.prefill_tps),
            "ttft": _samples(m.ttft_ms),
            "rss": finite(m.peak_rss_mb) if c.status == "ok" else None,
            "kl": finite(q.kl_mean) if q else None,
            "top1": finite(q.top1_agree_pct) if q else None}


def cells_document(run: Run) -> dict:
    """A run's cells for the compare view (and as its table's JSON download)."""
    return {"run": run.run_id, "machine": run.machine.label, "model": model_name(run),
            "fingerprint": model_fingerprint(run), "date": run.created_at.isoformat(),
            "cells": [cell_record(run, c) for c in run.cells]}


def _entry(run: Run, floors: dict[str, NoiseFloor]) -> dict:
    return {"id": run.run_id, "slug": slug(run.run_id), "machine": run.machine.label,
            "model": model_name(run), "fingerprint": model_fingerprint(run),
            "date": run.created_at.strftime("%Y-%m-%d %H:%M"),
            "engines": sorted({c.engine for c in run.cells}),
            # the file `enginebench compare` reads (an asv result has none of its own)
            "file": "" if run.run_id.startswith("asv-") else
            f"data/results/{run.machine.label}/{run.run_id}.json",
            "floor": floors[run.machine.label].pct}


def _pair(kind: str, title: str, a: Run, b: Run, ea: str = "", eb: str = "") -> dict:
    return {"kind": kind, "title": title, "a": slug(a.run_id), "b": slug(b.run_id),
            "ea": ea, "eb": eb}


def presets(results: Results) -> list[dict]:
    """Ready-made comparisons: per machine and model, the verdict's fastest engine against
    the runner-up of its class (two engines), the latest run against the one before it
    (two dates); per model on two machines, their latest runs (two machines)."""
    out = []
    latest: dict[str, list[Run]] = {}
    for label in results.machines():
        for model in results.models(label):
            runs = results.of(label, model)
            run = runs[-1]
            latest.setdefault(model, []).append(run)
            for v in class_verdicts(run.headline_cells(), 0.0):
                if v.leads and v.leads[0].other.engine != v.fastest.engine:
                    out.append(_pair("two engines", f"{model} on {label}, {v.precision_class}: "
                                     f"{v.fastest.engine} against {v.leads[0].other.engine}",
                                     run, run, v.fastest.engine, v.leads[0].other.engine))
            before = previous_run(run, runs)
            if before is not None:
                out.append(_pair("two dates", f"{model} on {label}: the latest run against "
                                 "the one before",
                                 before, run))
    for model, runs in latest.items():
        for other in runs[1:]:
            if model_fingerprint(other) == model_fingerprint(runs[0]):
                out.append(_pair("two machines", f"{model}: {runs[0].machine.label} against "
                                 f"{other.machine.label}", runs[0], other))
    return out


def catalogue(results: Results, floors: dict[str, NoiseFloor]) -> dict:
    """What the compare page embeds: every run (newest first), the presets, the rule."""
    return {"runs": [_entry(r, floors) for r in results.runs[::-1]],
            "presets": presets(results),
            "rule": {"min_samples": MIN_SAMPLES, "resamples": RESAMPLES, "seed": SEED}}
