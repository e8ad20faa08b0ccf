"""The fault pass: what a hostile but fair user tries against `enginebench`, rerunnable.

Each case is a command run as a user would run it (a fresh process, a private cache and temp
folder), what happened, and whether that is what must happen: bad input is one `error:` line
and exit 2 with nothing written; a fault in the run (a signal, a full disk, a damaged cache)
loses nothing that finished and leaves no process or temp folder behind. Prints a Markdown
table and exits 1 when a case fails. About 5 minutes on 2 cores (tiny cells of PyTorch and
llama.cpp, and one site build); run it as `.venv/bin/python scripts/fault_pass.py`.
"""

import csv
import io
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "enginebench"]
FAST = ["--model", "tiny", "--quality", "off", "--roofline", "off", "--prompt-tokens", "8",
        "--new-tokens", "4", "--reps", "1", "--warmups", "0", "--format", "json"]
# the harness with the tests' fake engines registered (tests/fake_engines.py)
DRIVER = """
import sys
from enginebench.engines import registry
registry.ENGINES["onestamp"] = registry.Row(model="fake_engines:OneStampEngine")
from enginebench.cli import main
sys.exit(main(sys.argv[1:]))
"""
NO_CPUINFO = """
import sys, cpuinfo
def broken():
    raise RuntimeError("py-cpuinfo's helper process died")
cpuinfo.get_cpu_info = broken
from enginebench.measure.environment import default_machine_label
print(default_machine_label())
"""


@dataclass
class Done:
    code: int | None
    out: str
    err: str

    @property
    def last(self) -> str:
        lines = self.err.strip().splitlines()
        return lines[-1] if lines else ""

    def one_line_error(self) -> str | None:
        """None when this is a clean refusal: exit 2, an `error:` line last, no traceback."""
        if "Traceback" in self.err:
            return "traceback: " + self.err.strip().splitlines()[-1][:150]
        if self.code != 2 or not self.last.startswith("error: "):
            return f"exit {self.code}, stderr ends {self.last[:150]!r}"
        return None


class Pass:
    """The shared setting of the cases: a private cache, temp folder and results root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache, self.temp, self.out = root / "cache", root / "tmp", root / "out"
        for p in (self.cache, self.temp, self.out):
            p.mkdir()
        self.env = {**os.environ, "ENGINEBENCH_CACHE": str(self.cache),
                    "TMPDIR": str(self.temp),
                    "PYTHONPATH": os.pathsep.join([str(REPO / "tests"),
                                                   os.environ.get("PYTHONPATH", "")])}
        self.rows: list[tuple[str, str, str, bool]] = []

    def run(self, argv: list[str], timeout: float = 600, env: dict | None = None,
            prog: list[str] | None = None, cwd: Path | None = None) -> Done:
        try:
            p = subprocess.run([*(prog or CLI), *argv], capture_output=True, text=True,
                               timeout=timeout, env=env or self.env, cwd=cwd or self.root,
                               stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired as e:
            return Done(None, "", f"hung: no exit within {timeout:g} s {e.stderr or ''}")
        return Done(p.returncode, p.stdout, p.stderr)

    def record(self, case: str, command: str, problem: str | None, result: str) -> None:
        self.rows.append((case, command, problem or result, problem is None))

    def refused(self, case: str, argv: list[str], says: str, **kw: object) -> Done:
        """A case of bad input: one line naming `says`, exit 2."""
        done = self.run(argv, **kw)  # type: ignore[arg-type]
        problem = done.one_line_error()
        if problem is None and says not in done.last:
            problem = f"the error does not say {says!r}: {done.last[:150]}"
        self.record(case, "enginebench " + shlex.join(argv), problem, done.last[:160])
        return done

    def orphans(self, pid: int) -> list[int]:
        """Live processes started for the harness `pid` (they carry its pid in their
        environment), zombies excepted."""
        out = []
        for p in psutil.process_iter(["pid", "status"]):
            try:
                if p.info["status"] == psutil.STATUS_ZOMBIE:
                    continue
                if p.environ().get("ENGINEBENCH_PARENT_PID") == str(pid):
                    out.append(p.pid)
            except psutil.Error:
                continue
        return out


def _base_run(fp: Pass) -> Path:
    """One good run file, the raw material of the results-file cases."""
    done = fp.run(["run", *FAST, "--engines", "torch", "--precisions", "fp32",
                   "--machine", "base", "--out", str(fp.root / "base")])
    if done.code != 0:
        raise SystemExit(f"the base run failed: {done.err[-2000:]}")
    (path,) = (fp.root / "base" / "base").glob("*.json")
    return path


def results_file_cases(fp: Pass, base: Path) -> list[Path]:
    """Hand-edited results files: each must be refused by `show` with the field named;
    returned so that the site cases can plant them too."""
    doc = json.loads(base.read_text())
    planted = []

    def bad(name: str, field: str, change: Callable[[dict], None]) -> None:
        d = json.loads(json.dumps(doc))
        change(d)
        path = fp.root / "bad" / f"{name}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(d))
        planted.append(path)
        fp.refused(f"results file: {name}", ["show", str(path)], field)

    def metric(d: dict) -> dict:
        return d["cells"][0]["metrics"]

    bad("nan-median", "median", lambda d: metric(d)["decode_tps"].update(median=math.nan))
    bad("inf-sample", "samples", lambda d: metric(d)["decode_tps"]["samples"]
        .__setitem__(0, math.inf))
    bad("negative-rate", "median", lambda d: metric(d)["prefill_tps"].update(median=-5.0))
    bad("pp0", "workload.prompt_tokens", lambda d: d["workload"].update(prompt_tokens=0))
    bad("threads-3", "workload.threads", lambda d: d["workload"].update(threads=-3))
    bad("machine-escape", "machine.label", lambda d: d["machine"].update(label="../../x"))
    return planted


def terminal_cases(fp: Pass, base: Path) -> None:
    doc = json.loads(base.read_text())
    doc["model"]["name"] = "evil\x1b]0;owned\x07\x1b[2J[/]"
    doc["cells"][0]["notes"] = ["[bold]not markup[/bold] \x1b[31mred"]
    path = fp.root / "esc.json"
    path.write_text(json.dumps(doc))
    for fmt in ("table", "md", "csv"):
        done = fp.run(["show", str(path), "--format", fmt])
        problem = None if done.code == 0 else f"exit {done.code}: {done.last}"
        if problem is None and ("\x1b" in done.out or "\x07" in done.out):
            problem = "ESC or BEL reached the terminal"
        # the model name (in the title) must come out as written, its brackets literal
        literal = "\\[/\\]" if fmt == "md" else "[/]"
        if problem is None and fmt != "csv" and literal not in done.out:
            problem = "a bracketed name was taken as markup"
        fp.record(f"ESC and [/] in names, show --format {fmt}", f"enginebench show esc.json "
                  f"--format {fmt}", problem, "printed as text, no control characters")
    doc = json.loads(base.read_text())
    doc["cells"][0]["error"] = "=HYPERLINK(\"http://x\")"
    doc["cells"][0]["engine"] = "+cmd|' /C calc'!A0"
    path = fp.root / "csv.json"
    path.write_text(json.dumps(doc))
    done = fp.run(["show", str(path), "--format", "csv"])
    cells = [c for row in list(csv.reader(io.StringIO(done.out)))[1:] for c in row]
    live = [c for c in cells if c[:1] in ("=", "+", "@")]
    fp.record("CSV formula in a name", "enginebench show csv.json --format csv",
              f"live formula cells: {live}" if live or done.code else None,
              "neutralised with a leading '")
    out = fp.root / "res [old]"
    done = fp.run(["run", *FAST[:-2], "--engines", "torch", "--precisions", "fp32",
                   "--machine", "m", "--out", str(out)])
    files = list((out / "m").glob("*.json"))
    ok = done.code == 0 and len(files) == 1 and f"saved {files[0]}" in done.err
    fp.record("--out with [old] in its name", "enginebench run ... --out 'res [old]'",
              None if ok else f"exit {done.code}: {done.last}", "the right path printed")


def option_cases(fp: Pass) -> None:
    for argv, says in [
        (["--device", "tpu"], "--device 'tpu'"),
        (["--timeout", "0"], "--timeout 0"),
        (["--timeout", "-5"], "--timeout -5"),
        (["--timeout", "nan"], "--timeout nan"),
        (["--engines", ""], "--engines is empty"),
        (["--prompt-tokens", "2000"], "context of 1024"),
        (["--prompt-tokens", "100000"], "context of 1024"),
        (["--machine", "../../escaped"], "machine label"),
        (["--machine", "/abs/path"], "machine label"),
        (["--machine", "a/b/c"], "machine label"),
        (["--machine", "a[/]b"], "machine label"),
    ]:
        fp.refused(f"option {' '.join(argv)}", ["run", *FAST, *argv, "--out", str(fp.out)],
                   says)
    escaped = fp.root.parent / "escaped"
    fp.record("nothing written outside --out", "(after the cases above)",
              "a file escaped --out" if escaped.exists() or list(fp.out.iterdir()) else None,
              "--out is empty, nothing beside it")


def profile_cases(fp: Pass) -> None:
    for name, text, says in [
        ("machine: ../x", "description: x\nmodels: [tiny]\nmachine: ../x\n", "machine"),
        ("non-UTF-8", b"description: \xff\xfe\nmodels: [tiny]\n", "UTF-8"),
        ("models: []", "description: x\nmodels: []\n", "models"),
        ("models: [tiny, nosuchmodel]", "description: x\nmodels: [tiny, nosuchmodel]\n",
         "nosuchmodel"),
        ("quality: maybe", "description: x\nmodels: [tiny]\nquality: maybe\n", "quality"),
    ]:
        folder = fp.root / "profiles" / str(len(fp.rows))
        folder.mkdir(parents=True)
        file = folder / "profile.yaml"
        (file.write_bytes if isinstance(text, bytes) else file.write_text)(text)
        out = fp.root / "profile-out"
        argv = ["run", "--profile", str(folder), "--out", str(out), *FAST[2:]]
        done = fp.run(argv)
        problem = done.one_line_error()
        if problem is None and says not in done.last:
            problem = f"the error does not say {says!r}: {done.last[:150]}"
        if out.exists():  # e.g. the first model ran before the second was found missing
            problem = f"wrote {[str(p) for p in out.rglob('*.json')]}"
            shutil.rmtree(out)
        fp.record(f"profile {name}", "enginebench " + shlex.join(argv), problem,
                  done.last[:160])


def _tiny_copy(fp: Pass, name: str) -> Path:
    (src,) = (fp.cache / "models").glob("tiny-*")
    dest = fp.root / "ckpt" / name
    shutil.copytree(src, dest)
    return dest


def checkpoint_cases(fp: Pass) -> None:
    """Damaged model.safetensors files: each refused in one line before any cell."""
    def damage(name: str, change: Callable[[Path], None], says: str) -> None:
        ckpt = _tiny_copy(fp, name.replace(" ", "-"))
        change(ckpt / "model.safetensors")
        fp.refused(f"checkpoint: {name}", ["run", *FAST[2:], "--model", str(ckpt),
                                           "--engines", "torch", "--out", str(fp.out)],
                   says)

    def header(f: Path) -> tuple[int, dict, bytes]:
        raw = f.read_bytes()
        n = int.from_bytes(raw[:8], "little")
        return n, json.loads(raw[8:8 + n]), raw[8 + n:]

    def rewrite(f: Path, change: Callable[[dict], None]) -> None:
        _, head, data = header(f)
        change(head)
        text = json.dumps(head).encode()
        text += b" " * (-len(text) % 8)
        f.write_bytes(len(text).to_bytes(8, "little") + text + data)

    def first(head: dict) -> dict:
        return next(v for k, v in head.items() if k != "__metadata__")

    damage("under 8 bytes", lambda f: f.write_bytes(b"\x01\x02"), "model.safetensors")
    damage("garbage header", lambda f: f.write_bytes((40).to_bytes(8, "little") + b"\xff" * 40
                                                     + f.read_bytes()[48:]),
           "model.safetensors")
    damage("list header", lambda f: f.write_bytes((2).to_bytes(8, "little") + b"[]"),
           "model.safetensors")
    damage("shape-less header", lambda f: rewrite(f, lambda h: first(h).pop("shape")),
           "shape")
    damage("header claims 2^64 bytes", lambda f: f.write_bytes(
        (2**64 - 1).to_bytes(8, "little") + f.read_bytes()[8:]), "model.safetensors")
    damage("header claims 1 TiB", lambda f: f.write_bytes(
        (2**40).to_bytes(8, "little") + f.read_bytes()[8:]), "model.safetensors")
    damage("half-size weights", lambda f: f.write_bytes(f.read_bytes()[:f.stat().st_size // 2]),
           "model.safetensors")
    damage("lying offsets", lambda f: rewrite(
        f, lambda h: first(h).update(data_offsets=[0, 10**12])), "model.safetensors")
    damage("lying shape", lambda f: rewrite(f, lambda h: first(h).update(
        shape=[s * 2 for s in first(h)["shape"]])), "model.safetensors")
    damage("lying dtype", lambda f: rewrite(f, lambda h: first(h).update(dtype="F64")),
           "model.safetensors")
    damage("shape against config.json", lambda f: rewrite(f, lambda h: h[
        "model.embed_tokens.weight"].update(shape=h["model.embed_tokens.weight"]["shape"][::-1])),
        "model.embed_tokens.weight")


def cache_cases(fp: Pass) -> None:
    file = fp.root / "a-file"
    file.write_text("not a folder")
    fp.refused("ENGINEBENCH_CACHE is a file", ["run", *FAST, "--engines", "torch",
                                               "--out", str(fp.out)],
               "ENGINEBENCH_CACHE", env={**fp.env, "ENGINEBENCH_CACHE": str(file)})

    # llama.cpp's converted artifact, its marker then rewritten as a JSON list
    argv = ["run", *FAST, "--engines", "llamacpp", "--precisions", "f32", "--out",
            str(fp.out), "--machine", "cache"]
    done = fp.run(argv)
    markers = list((fp.cache / "artifacts" / "llamacpp").glob("*/enginebench-artifact.json"))
    if done.code == 0 and markers:
        markers[0].write_text("[1, 2, 3]")
        done = fp.run(argv)
    cell = _last_cells(fp.out / "cache")[0] if done.code == 0 else {}
    rebuilt = any("rejected and rebuilt" in n for n in cell.get("notes", []))
    fp.record("artifact marker of the wrong JSON shape", "enginebench run --engines llamacpp "
              "(marker replaced by [1, 2, 3])",
              None if done.code == 0 and cell.get("status") == "ok" and rebuilt else
              f"exit {done.code}: {done.last}; notes {cell.get('notes')}",
              "the artifact is rebuilt, the cell is ok")

    argv = ["run", *FAST[:2], "--roofline", "off", "--prompt-tokens", "8", "--new-tokens",
            "4", "--reps", "1", "--warmups", "0", "--engines", "torch", "--precisions",
            "fp32", "--out", str(fp.out), "--machine", "ref", "--format", "json"]
    done = fp.run(argv)
    refs = list((fp.cache / "reference").glob("*.npz"))
    for ref in refs:
        ref.write_bytes(ref.read_bytes()[:100])
    if done.code == 0 and refs:
        done = fp.run(argv)
    cell = _last_cells(fp.out / "ref")[0] if done.code == 0 else {}
    fp.record("truncated cached reference .npz", "enginebench run --engines torch (its "
              "reference cut to 100 bytes)",
              None if done.code == 0 and cell.get("quality") else
              f"exit {done.code}: {done.last}", "the reference is recomputed; quality measured")


def _last_cells(folder: Path) -> list[dict]:
    files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(files[-1].read_text())["cells"] if files else []


def stale_artifact_case(fp: Pass) -> None:
    """Weights changed in the middle (first and last MB alone): every artifact and the
    reference made from the old weights must go unused."""
    ckpt = _tiny_copy(fp, "stale")
    argv = ["run", "--model", str(ckpt), "--roofline", "off", "--prompt-tokens", "16",
            "--new-tokens", "8", "--reps", "1", "--warmups", "0", "--engines",
            "torch,llamacpp", "--precisions", "fp32", "--out", str(fp.out), "--machine",
            "stale", "--format", "json"]
    first = fp.run(argv)
    weights = ckpt / "model.safetensors"
    size = weights.stat().st_size
    rng = np.random.default_rng(0)
    patch = rng.normal(0, 0.05, 1 << 18).astype(np.float32).tobytes()  # 1 MiB
    with open(weights, "r+b") as f:
        f.seek(size // 2 - len(patch) // 2 // 4 * 4)
        f.write(patch)
    second = fp.run(argv)
    cells = {c["engine"]: c for c in _last_cells(fp.out / "stale")} if second.code == 0 \
        else {}
    torch, llama = cells.get("torch", {}), cells.get("llamacpp", {})
    q = torch.get("quality") or {}
    problem = None
    if first.code or second.code:
        problem = f"exit {first.code}/{second.code}: {second.last}"
    elif q.get("top1_agree_pct") != 100.0 or q.get("kl_mean", 1) > 1e-6:
        problem = f"torch against its own reference: {q}"
    elif llama.get("metrics", {}).get("artifact_cached") is not False:
        problem = "llama.cpp reused the GGUF of the old weights"
    llama_top1 = (llama.get("quality") or {}).get("top1_agree_pct")
    fp.record("stale artifacts: middle bytes of the weights changed",
              "enginebench run --model COPY --engines torch,llamacpp, twice", problem,
              f"torch top-1 {q.get('top1_agree_pct')}% KL {q.get('kl_mean')}; llama.cpp "
              f"GGUF rebuilt, its top-1 {llama_top1}%")


def signal_cases(fp: Pass) -> None:
    """The harness interrupted or killed while a cell, or its converter, runs."""
    for sig, engine, wait_for in [
        (signal.SIGTERM, "torch", "enginebench.measure.child"),
        (signal.SIGINT, "torch", "enginebench.measure.child"),
        (signal.SIGKILL, "torch", "enginebench.measure.child"),
        (signal.SIGKILL, "llamacpp", "convert_hf_to_gguf"),
    ]:
        machine = f"sig-{sig.name.lower()}-{engine}"
        argv = ["run", "--model", "small", "--quality", "off", "--roofline", "off",
                "--reps", "200", "--engines", engine,
                "--precisions", "fp32" if engine == "torch" else "q8_0",
                "--machine", machine, "--out", str(fp.out), "--format", "json"]
        if engine == "llamacpp":  # a fresh cache, so that the GGUF is converted now
            shutil.rmtree(fp.cache / "artifacts", ignore_errors=True)
        proc = subprocess.Popen([*CLI, *argv], env=fp.env, cwd=fp.root,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        started = _wait_for_descendant(proc, wait_for, 240)
        time.sleep(1.0)
        proc.send_signal(sig)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = None
        err = proc.stderr.read() if proc.stderr else ""
        time.sleep(1.0)
        left = fp.orphans(proc.pid)
        expected = {signal.SIGTERM: 143, signal.SIGINT: 130, signal.SIGKILL: -9}[sig]
        problem = None
        if not started:
            problem = f"never saw {wait_for} running: {err[-300:]}"
        elif code != expected:
            problem = f"exit {code}, not {expected}: {err[-300:]}"
        elif left:
            problem = f"processes left running: {left}"
        else:
            files = list((fp.out / machine).glob("*.json"))
            if sig != signal.SIGKILL and (len(files) != 1 or fp.run(
                    ["show", str(files[0])]).code != 0):
                problem = "the results file is missing or invalid"
        result = f"exit {code}, no process left"
        if sig == signal.SIGKILL and problem is None:
            leftovers = [p for p in (*fp.temp.glob(f"enginebench-*-{proc.pid}-*"),
                                     *fp.cache.rglob(f"*.tmp-{proc.pid}"))]
            fp.run(["run", *FAST, "--engines", "torch", "--precisions", "fp32", "--machine",
                    "sweep", "--out", str(fp.out)])
            still = [p for p in leftovers if p.exists()]
            problem = f"not swept by the next run: {still}" if still else None
            result += f"; {len(leftovers)} temp folders left, swept by the next run"
        fp.record(f"{sig.name} of the harness while {wait_for.split('.')[-1]} runs "
                  f"({engine})", f"kill -{sig.name[3:]} <enginebench run --engines {engine}>",
                  problem, result)


def _wait_for_descendant(proc: subprocess.Popen, text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            kids = psutil.Process(proc.pid).children(recursive=True)
            if any(text in " ".join(k.cmdline()) for k in kids):
                return True
        except psutil.Error:
            pass
        time.sleep(0.2)
    return False


def degenerate_trace_cases(fp: Pass) -> None:
    for reps in ("1", "2"):
        argv = ["run", *FAST, "--engines", "onestamp", "--reps", reps, "--machine",
                f"onestamp{reps}", "--out", str(fp.out)]
        done = fp.run(argv, prog=[sys.executable, "-c", DRIVER])
        cells = _last_cells(fp.out / f"onestamp{reps}")
        ok = done.code == 0 and cells and all(c["status"] == "failed" for c in cells)
        fp.record(f"adapter stamps every token at one time, reps {reps}",
                  f"enginebench run --engines onestamp --reps {reps} (a fake adapter)",
                  None if ok else f"exit {done.code}: {done.last}",
                  f"failed cell: {cells[0]['error'][:90] if cells else ''}")


def disk_full_case(fp: Pass) -> None:
    mount = fp.root / "full"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                      capture_output=True, check=False).returncode:
        fp.record("disk full under --out", "(a 4 MiB tmpfs)", None,
                  "skipped: mounting a tmpfs needs root (tests/test_hardening_run.py fakes "
                  "the writer instead)")
        return
    try:
        def fill() -> None:  # once the run has saved its header, the disk fills up
            deadline = time.monotonic() + 120
            while not list(mount.rglob("*.json")) and time.monotonic() < deadline:
                time.sleep(0.05)
            try:
                with open(mount / "filler", "wb") as f:
                    while True:
                        f.write(b"\0" * 4096)
            except OSError:
                pass

        filler = threading.Thread(target=fill, daemon=True)
        filler.start()
        done = fp.run(["run", *FAST, "--engines", "torch", "--machine", "full", "--out",
                       str(mount)])
        filler.join(5)
        files = list((mount / "full").glob("*.json"))
        (mount / "filler").unlink(missing_ok=True)
        shown = fp.run(["show", str(files[0])]) if files else Done(1, "", "no file")
        problem = done.one_line_error()
        if problem is None and "No space left" not in done.last:
            problem = f"does not say the disk is full: {done.last}"
        if problem is None and shown.code != 0:
            problem = f"the last good file is not readable: {shown.last}"
        fp.record("disk full under --out", "enginebench run --out <4 MiB tmpfs, filled "
                  "after the header>", problem, done.last[:160])
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def site_cases(fp: Pass, planted: list[Path], base: Path) -> None:
    data = fp.root / "data"
    machine = data / "results" / "m"
    machine.mkdir(parents=True)
    shutil.copy(REPO / "data" / "features.yaml", data / "features.yaml")
    for p in planted:
        shutil.copy(p, machine / p.name)
    (machine / "a-directory.json").mkdir()
    (machine / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    os.symlink("loop-b.json", machine / "loop-a.json")
    os.symlink("loop-a.json", machine / "loop-b.json")
    os.mkfifo(machine / "fifo.json")
    doc = json.loads(base.read_text())
    doc["machine"]["label"] = "m"
    for name, run_id in (("dot.json", ".hidden-run"), ("twin-1.json", "twin"),
                         ("twin-2.json", "twin")):
        doc["run_id"] = run_id
        (machine / name).write_text(json.dumps(doc))
    for name in ("a-directory.json", "deep.json", "loop-a.json", "fifo.json"):
        fp.refused(f"show a {name.split('.')[0]} named *.json", ["show", str(machine / name)],
                   name, timeout=30)
    done = fp.run(["site", "--data", str(data), "--out", str(fp.root / "site")], timeout=600,
                  cwd=REPO)  # the site is built from the repository's mkdocs.yml
    skipped = [line for line in done.out.splitlines() if line.startswith("skipped")]
    problem = None if done.code == 0 else f"exit {done.code}: {done.last}"
    want = ["a-directory.json", "deep.json", "loop-a.json", "fifo.json",
            *(p.name for p in planted)]
    missing = [w for w in want if not any(w in s for s in skipped)]
    if problem is None and missing:
        problem = f"not listed as skipped: {missing}"
    fp.record("site with a directory, 200k-deep JSON, symlink loop, FIFO and bad numbers "
              "named *.json", "enginebench site --data DATA", problem,
              f"built; {len(skipped)} files listed as skipped")
    runs = fp.root / "site" / "runs"
    pages = sorted(p.name for p in runs.glob("*.html")) if runs.is_dir() else []
    hidden = [p for p in pages if "hidden-run" in p]
    twins = [p for p in pages if p.startswith("twin")]
    fp.record("run id starting with '.'", "enginebench site", None if hidden and not
              hidden[0].startswith(".") else f"pages: {pages}", f"page {hidden[:1]}")
    fp.record("two files with one run id", "enginebench site",
              None if len(twins) == 2 or any("twin" in s for s in skipped)
              else f"pages: {twins}", f"pages {twins}" if len(twins) == 2 else "listed")


def cpu_case(fp: Pass) -> None:
    normal = fp.run(["-c", "from enginebench.measure.environment import default_machine_label"
                     " as d; print(d())"], prog=[sys.executable])
    broken = fp.run(["-c", NO_CPUINFO], prog=[sys.executable])
    same = normal.code == broken.code == 0 and normal.out == broken.out
    fp.record("py-cpuinfo's helper dies", "default machine label with py-cpuinfo raising",
              None if same else f"{normal.out.strip()!r} became {broken.out.strip()!r} "
              f"{broken.last}", f"the same label: {broken.out.strip()}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="enginebench-faults-") as tmp:
        fp = Pass(Path(tmp))
        base = _base_run(fp)
        option_cases(fp)
        profile_cases(fp)
        planted = results_file_cases(fp, base)
        terminal_cases(fp, base)
        checkpoint_cases(fp)
        cache_cases(fp)
        stale_artifact_case(fp)
        degenerate_trace_cases(fp)
        disk_full_case(fp)
        cpu_case(fp)
        signal_cases(fp)
        site_cases(fp, planted, base)
    print("| # | case | command | result | pass |\n|---|---|---|---|---|")
    for k, (case, command, result, ok) in enumerate(fp.rows, 1):
        cells = [c.replace("|", "\\|").replace("\n", " ") for c in (case, command, result)]
        print(f"| {k} | {cells[0]} | `{cells[1]}` | {cells[2]} | {'yes' if ok else 'NO'} |")
    failed = sum(not ok for *_, ok in fp.rows)
    print(f"\n{len(fp.rows) - failed} of {len(fp.rows)} cases pass")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
