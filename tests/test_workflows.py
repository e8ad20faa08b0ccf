"""The GitHub workflows (actionlint, zizmor, and the project's own rules: SHA-pinned
actions, least privilege, timeouts, no self-hosted job on pull requests, no self-hosted
label outside the nightly workflow, which pull requests never trigger), the runner
profiles, `run --profile`, and the asv suite and its results format."""

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmarks.engines import Engines
from enginebench.cli import RUN_DEFAULTS, main, run_plan
from enginebench.engines.registry import (
    check_precisions,
    engine_class,
    model_engines,
    select_precisions,
)
from enginebench.errors import UserError
from enginebench.measure import asv
from enginebench.profile import load_profile
from enginebench.results.asv_import import asv_file_runs

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PROFILES = ("cpu", "m1", "cuda", "rocm")
BIN = Path(sys.executable).parent


def _load(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return doc


def test_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} == {"ci.yml", "nightly.yml"}


def test_actionlint_is_clean() -> None:
    found = subprocess.run(["bash", str(ROOT / "scripts" / "install_actionlint.sh")],
                           capture_output=True, text=True).stdout.strip()
    actionlint = shutil.which("actionlint") or (found if found else None)
    if not actionlint or not Path(actionlint).is_file():
        pytest.skip("no actionlint: scripts/install_actionlint.sh builds it (needs Go)")
    proc = subprocess.run([actionlint, *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing_at_medium_or_above() -> None:
    proc = subprocess.run([str(BIN / "zizmor"), "--offline", "--min-severity", "medium",
                           "--format", "json", str(ROOT / ".github" / "workflows")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads(proc.stdout) == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_rules(path: Path) -> None:
    doc = _load(path)
    triggers = doc["on"] if isinstance(doc["on"], dict) else {t: None for t in doc["on"]}
    on_prs = bool({"pull_request", "pull_request_target"} & set(triggers))
    assert doc["permissions"] == {}, "top-level permissions must be empty"
    assert "concurrency" in doc
    for name, job in doc["jobs"].items():
        assert "timeout-minutes" in job, name
        assert "permissions" in job, name
        assert "write-all" not in str(job["permissions"]), name
        runs_on = json.dumps(job.get("runs-on", ""))
        if "self-hosted" in runs_on:
            assert not on_prs, f"{name}: a self-hosted job in a workflow run by pull requests"
        for step in job.get("steps", []):
            uses = step.get("uses")
            if uses and not uses.startswith("./"):
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), uses
            if step.get("uses", "").startswith("actions/checkout"):
                assert step["with"]["persist-credentials"] is False


NIGHTLY = "nightly.yml"
# GitHub-hosted images; any other label (self-hosted, enginebench-cpu, linux, x64...) can
# route a job to a self-hosted runner
GITHUB_HOSTED = re.compile(r"(ubuntu|windows|macos)-(latest|\d+(\.\d+)?)(-[a-z0-9]+)*")
MATRIX_REF = re.compile(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}")
# events someone without write access can cause, with the workflow file of the default branch
FORK_EVENTS = {"pull_request", "pull_request_target", "workflow_run", "issue_comment",
               "pull_request_review", "pull_request_review_comment", "discussion_comment"}


def _strings(value: object) -> list[str]:
    """Every string in a YAML value (a label, a list of them, a mapping of them)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def _runner_labels(job: dict) -> list[str]:
    """The labels a job's runs-on can name: its strings, with each `${{ matrix.X }}` read
    as every value X takes in the matrix (its lists and its include entries); any other
    expression is kept as it is, and is no GitHub-hosted image."""
    matrix = (job.get("strategy") or {}).get("matrix") or {}
    out = []
    for text in _strings(job.get("runs-on", [])):
        keys = MATRIX_REF.findall(text)
        if not keys:
            out.append(text)
            continue
        for key in keys:
            out += _strings(matrix.get(key)) + [
                s for entry in (matrix.get("include") or []) for s in _strings(entry.get(key))]
    return out


def self_hosted_problems(doc: dict) -> list[str]:
    """Why a workflow other than the nightly one could reach a self-hosted runner."""
    problems = []
    for name, job in doc.get("jobs", {}).items():
        uses = job.get("uses")
        if uses and not uses.startswith("./"):
            problems.append(f"{name}: calls another repository's workflow {uses}")
        if isinstance(job.get("runs-on"), dict) and "group" in job["runs-on"]:
            problems.append(f"{name}: runs on a runner group")
        problems += [f"{name}: runs-on names {label!r}, not a GitHub-hosted image"
                     for label in _runner_labels(job) if not GITHUB_HOSTED.fullmatch(label)]
    return problems


@pytest.mark.parametrize("path", [p for p in WORKFLOWS if p.name != NIGHTLY],
                         ids=lambda p: p.name)
def test_only_the_nightly_workflow_names_a_self_hosted_label(path: Path) -> None:
    assert self_hosted_problems(_load(path)) == []


def test_the_nightly_workflow_is_not_run_by_pull_requests() -> None:
    doc = _load(ROOT / ".github" / "workflows" / NIGHTLY)
    triggers = doc["on"] if isinstance(doc["on"], dict | list) else [doc["on"]]
    assert not FORK_EVENTS & set(triggers)
    labels = {label for job in doc["jobs"].values() for label in _runner_labels(job)}
    assert "self-hosted" in labels and "enginebench-cpu" in labels  # the check reads them


@pytest.mark.parametrize("job", [
    {"runs-on": "self-hosted"},
    {"runs-on": "enginebench-cpu"},
    {"runs-on": ["self-hosted", "enginebench-cpu"]},
    {"runs-on": ["linux", "x64"]},
    {"runs-on": {"group": "benchmarks"}},
    {"runs-on": {"labels": ["ubuntu-24.04", "enginebench-cuda"]}},
    {"runs-on": "${{ vars.RUNNER }}"},
    {"runs-on": "${{ matrix.os }}", "strategy": {"matrix": {"os": ["ubuntu-24.04",
                                                                   "self-hosted"]}}},
    {"runs-on": "${{ matrix.labels }}", "strategy": {"matrix": {"include": [
        {"labels": "ubuntu-24.04"}, {"labels": ["self-hosted", "enginebench-m1"]}]}}},
    {"uses": "someone/else/.github/workflows/bench.yml@main"},
], ids=lambda j: json.dumps(j)[:60])
def test_every_form_of_a_self_hosted_runs_on_is_found(job: dict) -> None:
    assert self_hosted_problems({"jobs": {"j": {"steps": [], **job}}})


def test_github_hosted_runs_on_passes() -> None:
    matrix = {"os": ["ubuntu-24.04", "macos-14", "windows-latest"],
              "include": [{"os": "ubuntu-24.04-arm"}]}
    assert self_hosted_problems({"jobs": {
        "a": {"runs-on": "ubuntu-latest"}, "b": {"runs-on": ["ubuntu-24.04"]},
        "c": {"runs-on": "${{ matrix.os }}", "strategy": {"matrix": matrix}},
        "d": {"uses": "./.github/workflows/reusable.yml"}}}) == []


@pytest.mark.parametrize("name", PROFILES)
def test_runner_profiles(name: str) -> None:
    folder = ROOT / "runners" / name
    profile = load_profile(folder)
    assert set(profile.engines or []) <= set(model_engines())
    assert profile.models
    setup = folder / "setup.sh"
    assert setup.is_file() and setup.stat().st_mode & 0o111
    subprocess.run(["bash", "-n", str(setup)], check=True)


def _run_args(*argv: str) -> argparse.Namespace:
    ns = argparse.Namespace(profile=None, model=None, sweep=None,
                            **dict.fromkeys(RUN_DEFAULTS))
    args = iter(argv)
    for flag in args:
        setattr(ns, flag.lstrip("-").replace("-", "_"), next(args))
    if ns.profile:
        ns.profile = Path(ns.profile)
    return ns


def test_profile_fills_options_and_the_command_line_wins() -> None:
    plan = run_plan(_run_args("--profile", str(ROOT / "runners" / "cuda"), "--reps", 2))
    grid = [(args, model) for args, model in plan if args.batch == RUN_DEFAULTS["batch"]]
    assert [model for _, model in grid] == ["small", "smollm2-135m", "llama2-7b"]
    args = grid[0][0]
    assert args.device == "cuda" and args.reps == 2 and args.warmups == 2
    assert args.engines.split(",")[0] == "torch"
    assert args.new_tokens == RUN_DEFAULTS["new_tokens"]
    assert args.precisions == "all"  # every profile runs the full grid
    (cpu, *_) = run_plan(_run_args("--profile", str(ROOT / "runners" / "cpu")))
    assert cpu[0].budget_s == 120 and args.budget_s is None  # the cpu profile's cell_budget
    ((plain, model),) = run_plan(_run_args("--model", "tiny"))
    assert model == "tiny" and plain.device == "cpu"
    assert plain.precisions == "fp32"  # the default suite: fp32 of every engine


def test_profile_sweeps_run_after_the_grid_and_alone_by_name() -> None:
    cpu = str(ROOT / "runners" / "cpu")
    plan = run_plan(_run_args("--profile", cpu))
    sweeps = [(args, model) for args, model in plan if isinstance(args.batch, list)]
    assert plan[-len(sweeps):] == sweeps and sweeps  # after the grid
    ((alone, model),) = run_plan(_run_args("--profile", cpu, "--sweep", "scaling"))
    assert model == "small" and alone.prompt_tokens == [128, 512, 1920]
    assert alone.batch == [1, 4] and alone.precisions == "fp32"
    # the command line wins over the sweep too
    ((short, _),) = run_plan(_run_args("--profile", cpu, "--sweep", "scaling", "--reps", 1))
    assert short.reps == 1
    with pytest.raises(UserError, match="its sweeps: scaling"):
        run_plan(_run_args("--profile", cpu, "--sweep", "nope"))
    with pytest.raises(UserError, match="give --profile too"):
        run_plan(_run_args("--sweep", "scaling"))


def test_default_precisions_and_all() -> None:
    cls = engine_class("torch")
    fp32 = [p for p, c in cls.precisions.items() if c == "fp32"]
    assert select_precisions(cls, RUN_DEFAULTS["precisions"]) == fp32 == ["fp32"]
    assert select_precisions(cls, "all") == list(cls.precisions)
    assert select_precisions(cls, "int4,all") == ["int4", *(p for p in cls.precisions
                                                           if p != "int4")]
    check_precisions([cls], "all,fp16")  # a known word: no error
    with pytest.raises(UserError, match="unknown precision 'al'"):
        check_precisions([cls], "al")


def test_bad_profile_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["run", "--profile", str(tmp_path / "nope")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "profile.yaml").write_text("description: x\nmodels: [small]\nreps: many\n")
    with pytest.raises(UserError, match="field reps"):
        load_profile(tmp_path)


def test_asv_suite_is_valid() -> None:
    proc = subprocess.run([str(BIN / "asv"), "check", "-E", "existing"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "No problems found" in proc.stdout, proc.stdout[-2000:]


def test_asv_cases_skip_and_fail_as_asv_expects() -> None:
    bench = Engines()
    cells = {("torch fp32", "tiny", "w"): {"status": "ok", "error": None, "decode_tps": 5.0},
             ("torch int4", "tiny", "w"): {"status": "unsupported", "error": "no kernel"},
             ("torch int8", "tiny", "w"): {"status": "failed", "error": "exit 1"}}
    bench.setup(cells, "torch fp32", "tiny", "w")
    assert bench.track_decode_tps(cells, "torch fp32", "tiny", "w") == 5.0
    with pytest.raises(NotImplementedError, match="no kernel"):
        bench.setup(cells, "torch int4", "tiny", "w")
    with pytest.raises(RuntimeError, match="exit 1"):
        bench.setup(cells, "torch int8", "tiny", "w")
    with pytest.raises(NotImplementedError, match="not installed"):
        bench.setup(cells, "candle f32 (fp32)", "tiny", "w")


def test_asv_grid_is_the_registry() -> None:
    """The asv grid is exactly every model engine's precisions, each with its class."""
    cells, models, [workload] = Engines.params
    assert models == ["tiny"] and workload.startswith("pp128 tg128 ")
    assert cells == [asv.cell_label(name, native, cls) for name in model_engines()
                     for native, cls in engine_class(name).precisions.items()]
    assert "llamacpp q8_0 (int8)" in cells and "torch fp32" in cells


LAYOUTS = {  # benchmark class -> its parameters, for the precisions fp32, int8, int4
    "bench_torch.Torch": [["'tiny'"], ["'fp32'", "'int8'", "'int4'"],
                          ["'pp128 tg128 w1 r5 t2'"]],
    "engines.Engines": [["'torch fp32'", "'torch int8'", "'llamacpp q4_0 (int4)'"],
                        ["'tiny'"], ["'pp128 tg128 w1 r5 t2'"]],
}


@pytest.mark.parametrize("bench_class", list(LAYOUTS))
def test_asv_results_become_runs(bench_class: str, tmp_path: Path) -> None:
    """asv's results format version 2, in the per-engine layout the committed results have
    and in today's one-class layout: null is a failure, NaN a skip."""
    params = LAYOUTS[bench_class]
    cols = ["result", "params", "version", "started_at", "duration"]
    results = {f"{bench_class}.{m}": [[v, None, math.nan], params, "h", 0, 1.0]
               for m, v in (("track_decode_tps", 60.0), ("track_prefill_tps", 900.0),
                            ("track_ttft_ms", 140.0), ("track_peak_rss_mb", 400.0))}
    doc = {"version": 2, "commit_hash": "a" * 40, "date": 1_795_000_000_000,
           "params": {"cpu": "x", "num_cpu": "2", "ram": str(2**34), "arch": "x86_64"},
           "env_name": "existing", "python": "3.11", "result_columns": cols,
           "results": results}
    path = tmp_path / "cpu-test" / "aaaaaaaa-existing.json"
    path.parent.mkdir()
    path.write_text(json.dumps(doc))  # json writes NaN as asv does
    [run] = asv_file_runs(path)  # one run per model, every engine class in it
    assert run.machine.label == "cpu-test" and run.workload.threads == 2
    status = {(c.engine, c.precision): c.status for c in run.cells}
    int4 = ("llamacpp", "q4_0") if bench_class == "engines.Engines" else ("torch", "int4")
    assert status == {("torch", "fp32"): "ok", ("torch", "int8"): "failed", int4: "unsupported"}
    ok = run.cells[0]
    assert ok.metrics.decode_tps.median == 60.0 and ok.metrics.peak_rss_mb == 400.0
    assert ok.precision_class == "fp32" and run.cells[2].precision_class == "int4"
