"""asv results (asv's results format, version 2) as run documents: one run per results
file and model, so asv runs appear on the site beside native runs.
A figure asv recorded as null failed; NaN was skipped (not installed or unsupported)."""

import ast
import contextlib
import itertools
import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path

from enginebench.errors import UserError
from enginebench.measure.metrics import summarize
from enginebench.results.schema import SCHEMA_VERSION, Cell, Machine, Metrics, Run, Workload

TRACKS = {"track_decode_tps": "decode_tps", "track_prefill_tps": "prefill_tps",
          "track_ttft_ms": "ttft_ms", "track_peak_rss_mb": "peak_rss_mb"}
WORKLOAD = re.compile(r"pp(\d+) tg(\d+) w(\d+) r(\d+) t(\d+)")
NOTE = ("from asv: the median of each figure only; the cell's raw samples are in the run "
        "document `enginebench run` writes")


def _workload(label: str) -> Workload:
    m = WORKLOAD.fullmatch(label)
    if not m:
        raise ValueError(f"workload parameter {label!r} is not 'ppP tgN wW rR tT'")
    p, n, w, r, t = map(int, m.groups())
    return Workload(prompt_tokens=p, new_tokens=n, warmups=w, reps=r, threads=t)


def _machine(params: dict, label: str) -> Machine:
    cores = int(params["num_cpu"]) if str(params.get("num_cpu", "")).isdigit() else None
    ram = float(params["ram"]) / 2**30 if str(params.get("ram", "")).isdigit() else 0.0
    return Machine(label=label, cpu=str(params.get("cpu", "")), arch=str(params.get("arch", "")),
                   physical_cores=None, logical_cores=cores, ram_gb=round(ram, 1))


def _figures(doc: dict) -> dict:
    """{(class, model, precision, workload): {metric: value}} over every tracked figure."""
    cols = doc["result_columns"]
    out: dict = {}
    for name, row in doc["results"].items():
        bench_class, _, method = name.rpartition(".")
        if method not in TRACKS:
            continue
        entry = dict(zip(cols, row, strict=False))
        params = [[ast.literal_eval(v) for v in axis] for axis in entry["params"]]
        for combo, value in zip(itertools.product(*params), entry["result"] or [],
                                strict=False):
            out.setdefault((bench_class, *combo), {})[TRACKS[method]] = value
    return out


def _cell(engine: str, precision: str, figures: dict) -> Cell:
    values = list(figures.values())
    common = {"engine": engine, "engine_version": None, "precision": precision,
              "precision_class": "fp32", "device": "cpu", "notes": [NOTE]}
    if any(v is None for v in values):
        return Cell(**common, status="failed", error="asv recorded a failure (null); its "
                    "output in the asv run says why")
    if all(isinstance(v, float) and math.isnan(v) for v in values):
        return Cell(**common, status="unsupported", error="skipped by asv (NaN): the engine "
                    "is not installed or does not run this precision")
    # asv keeps one figure per case: a median with no raw samples beside it
    metrics = {k: {**summarize([v]), "samples": [], "outliers": []}
               for k, v in figures.items() if k != "peak_rss_mb"}
    return Cell(**common, status="ok", rounds=1,
                metrics=Metrics(**metrics, peak_rss_mb=figures.get("peak_rss_mb")))


def asv_files(results_dir: Path) -> list[Path]:
    """asv's results files: results_dir/<machine>/<commit>-<env>.json."""
    return [p for p in sorted(results_dir.glob("*/*.json")) if p.name != "machine.json"]


def asv_file_runs(path: Path) -> list[Run]:
    """One asv results file as runs: one per model, with the cells of every engine class.
    The engine is the module's name (bench_onnxruntime_genai: onnxruntime-genai); the
    machine label is the folder's (`asv machine --machine LABEL`)."""
    from enginebench.engines.registry import engine_class

    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(doc, dict) or doc.get("version") != 2:
        raise UserError(f"{path}: not an asv results file of version 2")
    try:
        by_run: dict = {}  # one run per model and workload, every engine class in it
        for (bench_class, model, precision, workload), figures in _figures(doc).items():
            by_run.setdefault((model, workload), []).append((bench_class, precision, figures))
        # when the benchmarks ran (asv's `date` is the commit's date)
        cols = doc["result_columns"]
        starts = [dict(zip(cols, row, strict=False)).get("started_at")
                  for row in doc["results"].values()]
        ms = min((t for t in starts if isinstance(t, int | float)), default=doc["date"])
        created = datetime.fromtimestamp(ms / 1000, UTC)
        commit = doc["commit_hash"]
    except (KeyError, TypeError, ValueError, SyntaxError) as e:
        raise UserError(f"{path}: not a readable asv results file ({e!r})") from e
    runs = []
    for (model, workload), entries in sorted(by_run.items()):
        run_cells = []
        for bench_class, precision, figures in entries:
            engine = bench_class.split(".")[0].removeprefix("bench_").replace("_", "-")
            cell = _cell(engine, precision, figures)
            # an engine this enginebench does not know keeps fp32 as the class
            with contextlib.suppress(UserError):
                cell.precision_class = engine_class(engine).precisions.get(precision, "fp32")
            run_cells.append(cell)
        try:
            shape = _workload(workload)
        except ValueError as e:
            raise UserError(f"{path}: {e}") from e
        runs.append(Run(
            schema_version=SCHEMA_VERSION, run_id=f"asv-{commit[:8]}-{model}",
            created_at=created,
            command=f"asv run -E existing --set-commit-hash {commit} (on {model})",
            machine=_machine(doc.get("params", {}), path.parent.name),
            environment={"asv": {"results_file": path.name, "env_name": doc.get("env_name"),
                                 "python": doc.get("python"), "commit": commit}},
            model={"name": model}, workload=shape, cells=run_cells))
    return runs
