"""Faults in a run: the harness killed (no process and no temp folder outlives it), bad
options and profiles (one line, exit 2, before anything runs), unsafe machine labels,
non-finite numbers, a full disk, names a terminal would act on, an unreadable CPU."""

import errno
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import fake_engines as fe
import psutil
import pytest
from synthetic_runs import synthetic_run

from enginebench import hardware
from enginebench.cli import main
from enginebench.engines import registry
from enginebench.errors import UserError
from enginebench.leftovers import sweep
from enginebench.measure import environment, header
from enginebench.measure.suite import CellSpec, Suite
from enginebench.measure.workload import Workload
from enginebench.models.checkpoint import Checkpoint
from enginebench.results.store import load_document, load_run

WORKLOAD = Workload(prompt_tokens=8, new_tokens=4, warmups=0, reps=1, threads=1)
FAST = ["--model", "tiny", "--quality", "off", "--roofline", "off", "--prompt-tokens", "8",
        "--new-tokens", "4", "--reps", "1", "--warmups", "0", "--threads", "1"]
# the harness in a process of its own, with the fake engines registered
DRIVER = """
import sys
from enginebench.engines import registry
for name, cls in (("hang", "HangEngine"), ("hangconvert", "HangingConverterEngine")):
    registry.ENGINES[name] = registry.Row(model=f"fake_engines:{cls}")
from enginebench.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def fake_row() -> Iterator[None]:
    registry.ENGINES["fake"] = registry.Row(model="fake_engines:FakeEngine")
    try:
        yield
    finally:
        del registry.ENGINES["fake"]


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("error: "), err  # one line, the last
    return err.splitlines()[-1]


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def _gone(pids: list[int], within_s: float) -> list[int]:
    """The pids still alive (zombies count as gone) after waiting up to `within_s`."""
    deadline = time.monotonic() + within_s
    while True:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"])
@pytest.mark.parametrize("engine", ["hang", "hangconvert"])
def test_a_killed_harness_leaves_no_process(tiny: Checkpoint, tmp_path: Path, sig: int,
                                            engine: str) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, "run", *FAST, "--engines", engine, "--timeout", "300",
         "--machine", "test-machine", "--out", str(tmp_path / "out"), "--format", "json"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # wait for the cell (and, converting, its converter) to be running
    wanted = "sleep" if engine == "hangconvert" else "enginebench.measure.child"
    deadline = time.monotonic() + 120
    procs: list[psutil.Process] = []
    while not any(wanted in " ".join(_cmdline(p)) for p in procs):
        if time.monotonic() > deadline or driver.poll() is not None:
            driver.kill()
            pytest.fail(f"the cell never started: {driver.communicate()[1]}")
        time.sleep(0.2)
        try:
            procs = psutil.Process(driver.pid).children(recursive=True)
        except psutil.Error:
            procs = []
    pids = [p.pid for p in procs]
    time.sleep(0.5)
    driver.send_signal(sig)
    code = driver.wait(timeout=30)
    assert code == (143 if sig == signal.SIGTERM else -9), driver.stderr.read()
    assert _gone(pids, 10) == []
    if sig == signal.SIGTERM:
        assert "stopped by SIGTERM" in driver.stderr.read()
        (saved,) = (tmp_path / "out" / "test-machine").glob("*.json")
        load_run(saved)  # the header was saved and is valid
        assert not list(temp.glob("enginebench-*"))  # cleaned up on the way out
    else:
        leftovers = list(temp.glob(f"enginebench-cell-{driver.pid}-*"))
        assert leftovers  # a process killed outright cannot clean up; the next run does
        removed = sweep(Path(os.environ["ENGINEBENCH_CACHE"]), temp)
        assert set(leftovers) <= set(removed) and not any(p.exists() for p in removed)


def test_sweep_keeps_the_folders_of_live_processes(tmp_path: Path) -> None:
    cache, temp = tmp_path / "cache", tmp_path / "tmp"
    dead = 2**22 + 12345  # above pid_max's default: no such process
    mine = [temp / f"enginebench-cell-{os.getpid()}-abc",
            cache / "artifacts" / "fake" / f"tiny-fp32-x.tmp-{os.getpid()}"]
    theirs = [temp / f"enginebench-cell-{dead}-abc", temp / f"enginebench-ortbuild-{dead}-x",
              cache / "models" / f"tiny-123.tmp-{dead}",
              cache / "artifacts" / "fake" / f"tiny-fp32-x.tmp-{dead}"]
    for p in mine + theirs:
        p.mkdir(parents=True)
    assert sorted(sweep(cache, temp)) == sorted(theirs)
    assert all(p.is_dir() for p in mine) and not any(p.exists() for p in theirs)


@pytest.mark.parametrize("label", ["../../escaped", "/abs/path", "a/b/c", ".hidden", "-x",
                                   "", "x" * 101, "tab\there"])
def test_unsafe_machine_labels_are_refused(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path, label: str) -> None:
    err = _error(capsys, ["run", *FAST, f"--machine={label}", "--out", str(tmp_path)])
    assert "machine label" in err
    err = _error(capsys, ["ops", f"--machine={label}", "--out", str(tmp_path)])
    assert "machine label" in err
    with pytest.raises(UserError, match="machine label"):
        header.run_header(label, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_profile_machine_label_is_checked(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text("description: x\nmodels: [tiny]\nmachine: ../../escaped\n")
    err = _error(capsys, ["run", "--profile", str(profile), "--out", str(tmp_path / "o")])
    assert "field machine" in err and not (tmp_path / "o").exists()


@pytest.mark.parametrize(("argv", "says"), [
    (["--device", "tpu"], "--device 'tpu': no engine runs on it"),
    (["--timeout", "0"], "--timeout 0"),
    (["--timeout", "-5"], "--timeout -5"),
    (["--timeout", "nan"], "--timeout nan"),
    (["--timeout", "inf"], "--timeout inf"),
    (["--engines", ""], "--engines is empty"),
    (["--engines", ","], "--engines is empty"),
    (["--precisions", ""], "--precisions is empty"),
    (["--prompt-tokens", "2000"], "exceed model tiny's context of 1024"),
    (["--prompt-tokens", "100000"], "exceed model tiny's context of 1024"),
    (["--threads", "-3"], "--threads must be at least 1"),
])
def test_options_that_cannot_run_are_refused(cache_dir: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             argv: list[str], says: str) -> None:
    err = _error(capsys, ["run", *FAST, *argv, "--out", str(tmp_path)])
    assert says in err
    assert list(tmp_path.iterdir()) == []


def test_ops_options_are_checked(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert "--timeout nan" in _error(capsys, ["ops", "--timeout", "nan", "--out",
                                              str(tmp_path)])
    assert "--ops is empty" in _error(capsys, ["ops", "--ops", "", "--out", str(tmp_path)])


@pytest.mark.parametrize(("text", "says"), [
    ("description: x\nmodels: []\n", "field models"),
    ("description: x\nmodels: [tiny, nosuchmodel]\n", "'nosuchmodel'"),
    ("description: x\nmodels: [tiny]\nquality: maybe\n", "field quality"),
    ("description: x\nmodels: [tiny]\ntimeout: .nan\n", "field timeout"),
    ("description: x\nmodels: [tiny]\nengines: []\n", "--engines is empty"),
    (b"description: \xff\xfe\nmodels: [tiny]\n", "not valid UTF-8 YAML"),
])
def test_bad_profiles_are_one_line_before_any_run(cache_dir: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  text: str | bytes, says: str) -> None:
    profile = tmp_path / "profile.yaml"
    (profile.write_bytes if isinstance(text, bytes) else profile.write_text)(text)
    out = tmp_path / "out"
    err = _error(capsys, ["run", "--profile", str(profile), "--out", str(out), *FAST[2:]])
    assert says in err
    assert not out.exists()  # nothing ran, not even the first model


def test_profile_on_off_read_as_yaml_booleans(tmp_path: Path) -> None:
    from enginebench.profile import load_profile

    profile = tmp_path / "profile.yaml"
    profile.write_text("description: x\nmodels: [tiny]\nquality: off\nroofline: on\n")
    assert load_profile(profile).options() == {"quality": "off", "roofline": "on"}


def _doc(tmp_path: Path) -> dict:
    run = synthetic_run("synthetic-a", datetime(2026, 1, 1, tzinfo=UTC), 1, model="tiny")
    return json.loads(run.model_dump_json())


def _first_ok(doc: dict) -> dict:
    return next(c for c in doc["cells"] if c["status"] == "ok")


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: _first_ok(d)["metrics"]["decode_tps"].update(median=math.nan), "median"),
    (lambda d: _first_ok(d)["metrics"]["decode_tps"]["samples"].__setitem__(0, math.inf),
     "samples"),
    (lambda d: _first_ok(d)["metrics"]["prefill_tps"].update(median=-3.0), "median"),
    (lambda d: _first_ok(d)["metrics"].update(peak_rss_mb=-1.0), "peak_rss_mb"),
    (lambda d: d["workload"].update(prompt_tokens=0), "workload.prompt_tokens"),
    (lambda d: d["workload"].update(threads=-3), "workload.threads"),
    (lambda d: d["machine"].update(label="../escaped"), "machine.label"),
])
def test_non_finite_and_out_of_range_values_are_refused(tmp_path: Path, change: object,
                                                        field: str,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    doc = _doc(tmp_path)
    change(doc)  # type: ignore[operator]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))  # json writes NaN and Infinity as bare words
    with pytest.raises(UserError, match=field):
        load_document(path)
    assert field in _error(capsys, ["show", str(path)])


@pytest.mark.parametrize("reps", [1, 2])
def test_a_degenerate_trace_is_a_failed_cell(tiny: Checkpoint, tmp_path: Path,
                                             reps: int) -> None:
    workload = Workload(prompt_tokens=8, new_tokens=4, warmups=0, reps=reps, threads=1)
    specs = [CellSpec(fe.OneStampEngine, "fp32"), CellSpec(fe.FakeEngine, "fp32")]
    suite = Suite(tiny, specs, workload, "test-machine", tmp_path, timeout_s=60)
    suite.run()
    bad, good = load_run(suite.path).cells
    assert bad.status == "failed" and "took no time" in bad.error
    assert bad.metrics.decode_tps is None
    assert good.status == "ok"


def test_a_full_disk_stops_the_run_and_keeps_the_last_good_file(
        tiny: Checkpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real, writes = header.save_run, []

    def save_run(doc: object, path: Path) -> Path:
        writes.append(path)
        if len(writes) > 2:  # the header and the first cell fit, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(doc, path)  # type: ignore[arg-type]

    monkeypatch.setattr(header, "save_run", save_run)
    specs = [CellSpec(fe.FakeEngine, "fp32"), CellSpec(fe.FakeEngine, "int8"),
             CellSpec(fe.CompilingEngine, "fp32")]
    suite = Suite(tiny, specs, WORKLOAD, "test-machine", tmp_path, timeout_s=60)
    with pytest.raises(UserError, match="No space left on device") as e:
        suite.run()
    assert "keeps the last save" in str(e.value) and "fake int8 cpu is lost" in str(e.value)
    assert len(writes) == 3  # the third cell never ran
    (cell,) = load_run(suite.path).cells
    assert (cell.engine, cell.precision, cell.status) == ("fake", "fp32", "ok")


def test_names_a_terminal_would_act_on_print_as_text(fake_row: None, tiny: Checkpoint,
                                                     tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    out = tmp_path / "res [old] [/]"
    assert main(["run", *FAST, "--engines", "fake", "--out", str(out),
                 "--machine", "m"]) == 0
    err = capsys.readouterr().err
    (saved,) = (out / "m").glob("*.json")
    assert f"saved {saved}" in err
    err = _error(capsys, ["run", *FAST, "--engines", "fake\x1b]0;pwned\x07\x1b[2J"])
    assert "\x1b" not in err and "\x07" not in err


def test_the_cpu_is_read_from_the_kernel_when_py_cpuinfo_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cpuinfo

    def broken() -> dict:
        raise RuntimeError("the helper process died")

    proc = tmp_path / "cpuinfo"
    proc.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8488C\n"
                    "flags\t\t: fpu sse avx2 avx512f\n\nprocessor\t: 1\n"
                    "model name\t: Intel(R) Xeon(R) Platinum 8488C\n")
    monkeypatch.setattr(cpuinfo, "get_cpu_info", broken)
    monkeypatch.setattr(hardware, "PROC_CPUINFO", proc)
    hardware.cpu_info.cache_clear()
    try:
        assert hardware.cpu_info()["brand_raw"] == "Intel(R) Xeon(R) Platinum 8488C"
        assert environment.default_machine_label().startswith("cpu-intel-xeon-platinum")
        assert "avx512" in environment.default_machine_label()
        monkeypatch.setattr(hardware, "PROC_CPUINFO", tmp_path / "none")
        hardware.cpu_info.cache_clear()
        with pytest.raises(UserError, match="pass --machine"):
            environment.default_machine_label()  # never a label of another machine
    finally:
        hardware.cpu_info.cache_clear()


def test_rounds_get_a_recorded_order_seed(fake_row: None, tiny: Checkpoint, tmp_path: Path
                                          ) -> None:
    """`--rounds 2` with no --order-seed draws one and records it; --order-seed is kept;
    one round needs none."""
    from enginebench.results.store import load_run as load

    def seed_of(extra: list[str], machine: str) -> int | None:
        assert main(["run", *FAST, "--engines", "fake", "--out", str(tmp_path),
                     "--machine", machine, *extra]) == 0
        (saved,) = (tmp_path / machine).glob("*.json")
        return load(saved).workload.order_seed

    assert isinstance(seed_of(["--rounds", "2"], "drawn"), int)
    assert seed_of(["--rounds", "2", "--order-seed", "77"], "given") == 77
    assert seed_of([], "one-round") is None


def test_every_cell_carries_the_command_that_reruns_it_alone(
        fake_row: None, tiny: Checkpoint, tmp_path: Path) -> None:
    """A sweep's cell's `rerun` runs that cell alone at its point, and the two runs
    compare cell for cell."""
    import shlex

    from enginebench.results.compare import compare
    from enginebench.results.store import load_run as load

    assert main(["run", *FAST, "--engines", "fake", "--precisions", "fp32,int8",
                 "--prompt-tokens", "8,9", "--out", str(tmp_path / "a"), "--machine", "m"]) == 0
    (first,) = (tmp_path / "a" / "m").glob("*.json")
    run = load(first)
    cell = next(c for c in run.cells if (c.precision, run.point(c).prompt_tokens) == ("int8", 9))
    argv = shlex.split(cell.rerun or "")
    assert argv[:2] == ["enginebench", "run"] and "--model" in argv and "tiny" in argv
    assert main([*argv[1:], "--out", str(tmp_path / "b")]) == 0
    (again,) = (tmp_path / "b" / "m").glob("*.json")
    rerun = load(again)
    assert [(c.engine, c.precision, rerun.point(c)) for c in rerun.cells] == \
        [(cell.engine, cell.precision, run.point(cell))]
    assert rerun.workload.threads == run.workload.threads == 1
    assert {r.engine for r in compare(run, rerun).rows} == {"fake"}
