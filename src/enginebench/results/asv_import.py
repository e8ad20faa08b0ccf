"""asv results (asv's results format, version 2) as run documents: one run per results
file and model, so asv runs appear on the site beside native runs.
A figure asv recorded as null failed; NaN was skipped (not installed or unsupported).

Two layouts are read: `engines.Engines` (cell, model, workload), whose cell parameter is
the engine and its precision with the class ("llamacpp q8_0 (int8)"), and the earlier one
class per engine (`bench_<engine>.<Class>`: model, precision, workload), whose classes come
from the native names those engines had then (LEGACY_CLASSES)."""

import ast
import itertools
import math
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from enginebench.errors import UserError, field_error
from enginebench.results.schema import (
    PRECISION_CLASSES,
    SCHEMA_VERSION,
    Cell,
    Machine,
    Metrics,
    Run,
    Workload,
)
from enginebench.results.stats import summarize
from enginebench.results.store import parse_json, read_text

TRACKS = {"track_decode_tps": "decode_tps", "track_prefill_tps": "prefill_tps",
          "track_ttft_ms": "ttft_ms", "track_peak_rss_mb": "peak_rss_mb"}
# measure/asv.py's workload_label: " bB" where B sequences decoded together, " xX" where
# every cell ran in X rounds
WORKLOAD = re.compile(r"pp(\d+) tg(\d+)(?: b(\d+))? w(\d+) r(\d+)(?: x(\d+))? t(\d+)")
PRECISION = re.compile(r"(?P<native>\S+)(?: \((?P<cls>\w+)\))?")
CELL = re.compile(r"(?P<engine>\S+) (?P<precision>\S+(?: \(\w+\))?)")
# the native precision names of the per-engine asv classes, which wrote no class beside them
LEGACY_CLASSES = {"f32": "fp32", "float32": "fp32", "f16": "fp16", "float16": "fp16",
                  "bfloat16": "bf16", "q8_0": "int8", "q8": "int8", "int8_float32": "int8",
                  "int8_float16": "int8", "int8_bfloat16": "int8", "int8_dynamic": "int8",
                  "q4_0": "int4", "q4_k_m": "int4", "q4": "int4"}
# how a run document measured inside `asv run` (measure/asv.py) begins its command
ASV_COMMAND = "asv run: "
NOTE = ("from asv: the median of each figure only; the cell's raw samples are in the run "
        "document `enginebench run` writes")


def _workload(label: str) -> Workload:
    m = WORKLOAD.fullmatch(label)
    if not m:
        raise ValueError(f"workload parameter {label!r} is not 'ppP tgN [bB] wW rR [xX] tT'")
    p, n, b, w, r, x, t = (int(v) if v else 1 for v in m.groups())
    return Workload(prompt_tokens=p, new_tokens=n, batch=b, warmups=w, reps=r, rounds=x,
                    threads=t)


def _machine(params: dict, label: str) -> Machine:
    cores = int(params["num_cpu"]) if str(params.get("num_cpu", "")).isdigit() else None
    ram = float(params["ram"]) / 2**30 if str(params.get("ram", "")).isdigit() else 0.0
    return Machine(label=label, cpu=str(params.get("cpu", "")), arch=str(params.get("arch", "")),
                   physical_cores=None, logical_cores=cores, ram_gb=round(ram, 1))


def _figures(doc: dict) -> dict:
    """{(engine, model, precision label, workload): {metric: value}} over every tracked
    figure of either layout."""
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
            module = bench_class.split(".")[0]
            if module.startswith("bench_"):  # one class per engine: the engine is the module
                combo = (module.removeprefix("bench_").replace("_", "-"), *combo)
            else:  # (cell, model, workload)
                cell = CELL.fullmatch(combo[0])
                if not cell:
                    raise ValueError(f"cell parameter {combo[0]!r} is not 'ENGINE PRECISION'")
                combo = (cell["engine"], combo[1], cell["precision"], combo[2])
            out.setdefault(combo, {})[TRACKS[method]] = value
    return out


def cell_label(engine: str, native: str, precision_class: str) -> str:
    """A cell as one asv parameter, as `CELL` reads it: "llamacpp q8_0 (int8)", or
    "torch fp32" where the native name is the class. One axis for engine and precision
    keeps asv's grid to the cells that exist (an engine x precision product would hold
    every engine's precision names for every engine, each recorded as skipped)."""
    precision = native if native == precision_class else f"{native} ({precision_class})"
    return f"{engine} {precision}"


def _precision(label: str) -> tuple[str, str]:
    """(native name, class) of a precision parameter."""
    m = PRECISION.fullmatch(label)
    if not m:
        raise ValueError(f"precision parameter {label!r} is not 'NAME' or 'NAME (CLASS)'")
    native = m["native"]
    return native, m["cls"] or LEGACY_CLASSES.get(native, native)


def _cell(engine: str, label: str, figures: dict) -> Cell:
    values = list(figures.values())
    native, precision_class = _precision(label)
    if precision_class not in PRECISION_CLASSES:
        raise ValueError(f"precision {label!r} of {engine} has no known precision class")
    common = {"engine": engine, "engine_version": None, "precision": native,
              "precision_class": precision_class, "device": "cpu", "notes": [NOTE]}
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
    """One asv results file as runs: one per model (and workload), with the cells of every
    engine. The machine label is the folder's (`asv machine --machine LABEL`); any problem
    is one UserError line naming the file."""
    text = read_text(path, "asv results file")  # a directory or FIFO is one line, too
    doc = parse_json(path, text)
    if not isinstance(doc, dict) or doc.get("version") != 2:
        raise UserError(f"{path}: not an asv results file of version 2")
    try:
        by_run: dict = {}  # one run per model and workload, every engine class in it
        for (engine, model, precision, workload), figures in _figures(doc).items():
            by_run.setdefault((model, workload), []).append((engine, precision, figures))
        # when the benchmarks ran (asv's `date` is the commit's date)
        cols = doc["result_columns"]
        starts = [dict(zip(cols, row, strict=False)).get("started_at")
                  for row in doc["results"].values()]
        ms = min((t for t in starts if isinstance(t, int | float)), default=doc["date"])
        created = datetime.fromtimestamp(ms / 1000, UTC)
        commit = str(doc["commit_hash"])
        groups = sorted(by_run.items())
    except (KeyError, TypeError, ValueError, SyntaxError, AttributeError, ArithmeticError,
            RecursionError, OSError) as e:
        raise UserError(f"{path}: not a readable asv results file ({e!r:.300})") from e
    runs = []
    label, params = path.parent.name, doc.get("params")
    workloads = Counter(model for model, _ in by_run)
    for (model, workload), entries in groups:
        # the machine is in the run id (two machines' files of one commit are two runs), and
        # the workload where a model has more than one
        run_id = "-".join(["asv", commit[:8], label, str(model)] + (
            [str(workload).replace(" ", "-")] if workloads[model] > 1 else []))
        try:
            run_cells = [_cell(engine, precision, figures)
                         for engine, precision, figures in entries]
            shape = _workload(workload)
            runs.append(Run(
                schema_version=SCHEMA_VERSION, run_id=run_id,
                created_at=created,
                command=f"asv run -E existing --set-commit-hash {commit} (on {model})",
                machine=_machine(params if isinstance(params, dict) else {}, label),
                environment={"asv": {"results_file": path.name,
                                     "env_name": doc.get("env_name"),
                                     "python": doc.get("python"), "commit": commit}},
                model={"name": model}, workload=shape, cells=run_cells))
        except ValidationError as e:
            raise field_error(path, e) from e
        except (ValueError, TypeError) as e:
            raise UserError(f"{path}: {e}") from e
    return runs


def asv_twin_key(run: Run) -> tuple | None:
    """(machine, suite commit, model) of a run measured inside `asv run` with its full run
    document (ASV_COMMAND), or of a run imported from asv's results; None for any other run.
    The two of one measurement share it, and the run document, which has the raw samples,
    quality and roofline, is the one shown."""
    if run.command.startswith(ASV_COMMAND):
        commit = (run.environment.get("suite") or {}).get("commit")
    else:
        commit = (run.environment.get("asv") or {}).get("commit")
    return (run.machine.label, commit, run.model.get("name")) if commit else None
