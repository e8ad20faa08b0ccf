"""The Python side of the compiled Rust runners (runners/rust): find a runner binary,
start it with a job and speak its JSON-lines protocol.

The runner loads the model once and answers `generate` and `logits` requests, so the
harness drives warm-ups, reps and timing exactly as for a Python engine. The runner stamps
each token with CLOCK_MONOTONIC, the clock of `time.perf_counter()` on Linux, so the
trace's start (taken here, before the request is written) and its token times share one
clock, and the pipe's round trip is counted like any engine's call overhead.
"""

import functools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from enginebench.engines.base import Engine, Generation, LoadedModel, Unsupported
from enginebench.leftovers import temp_prefix
from enginebench.measure.isolate import peak_rss_of
from enginebench.models.checkpoint import Checkpoint

RUNNERS_ENV = "ENGINEBENCH_RUNNERS"
REPO_RUNNERS = Path(__file__).resolve().parents[4] / "runners" / "rust" / "bin"
BUILD_SCRIPT = "scripts/build_runners.sh"
CLOCK_SLACK_S = 5.0
STDERR_TAIL = 2000


def binary_path(name: str) -> Path | None:
    """The runner binary: in $ENGINEBENCH_RUNNERS, the repo's runners/rust/bin, or PATH."""
    for folder in (os.environ.get(RUNNERS_ENV), REPO_RUNNERS):
        if folder and os.access(path := Path(folder) / name, os.X_OK):
            return path
    found = shutil.which(name)
    return Path(found) if found else None


@functools.cache
def identity(path: Path) -> dict:
    """What `runner --version` prints: engine, version, build."""
    out = subprocess.run([str(path), "--version"], capture_output=True, text=True,
                         timeout=60, check=False)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise RuntimeError(f"{path} --version exited {out.returncode} and printed "
                           f"{out.stdout[:200]!r}; rebuild it with {BUILD_SCRIPT}") from None


def runner_available(binary: str) -> bool:
    """Built, and answering `--version` (a binary from a broken build is not)."""
    path = binary_path(binary)
    try:
        return path is not None and bool(identity(path))
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        return False


def runner_build(binary: str) -> dict:
    """The binary's path and the build information its `--version` prints."""
    path = binary_path(binary)
    return {"binary": str(path), **identity(path)["build"]} if path else {}


class RunnerProcess:
    """One running runner: send a JSON line, read the JSON line that answers it. `args`
    picks the mode (none: a model; `--ops`: single operators)."""

    def __init__(self, path: Path, job: dict, args: Sequence[str] = ()) -> None:
        self.name = path.name
        self.stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen([str(path), *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.send(job)

    def send(self, message: dict) -> None:
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.read("")  # reports the exit and what the runner said

    def _stderr_tail(self) -> str:
        self.stderr.seek(0)
        text = self.stderr.read().strip()
        return f"; stderr: {text[-STDERR_TAIL:]}" if text else ""

    def read(self, event: str) -> dict:
        """The next line, which must be `event`; an error line raises with its message."""
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise RuntimeError(f"{self.name} exited with code {code} before answering "
                               f"{event!r}{self._stderr_tail()}")
        try:
            reply = json.loads(line)
            kind = reply["event"]
        except (json.JSONDecodeError, TypeError, KeyError):
            self.proc.kill()
            raise RuntimeError(f"{self.name} wrote a malformed line: {line[:200]!r}") from None
        if kind == "error":
            self.proc.wait()
            message = f"{self.name}: {reply.get('message')}"
            if reply.get("kind") == "unsupported":
                raise Unsupported(message)
            raise RuntimeError(message + self._stderr_tail())
        if kind != event:
            self.proc.kill()
            raise RuntimeError(f"{self.name} answered {kind!r} where {event!r} was due")
        return reply

    def request(self, event: str, message: dict) -> dict:
        self.send(message)
        return self.read(event)

    def close(self) -> dict:
        """End the runner (EOF on stdin) and return its `done` line."""
        self.proc.stdin.close()
        try:
            return self.read("done")
        finally:
            self.proc.wait(timeout=60)
            self.stderr.close()


class RustRunnerEngine(Engine):
    """An engine run by a compiled runner; subclasses name the binary and precisions."""

    binary: ClassVar[str]
    modules = ()
    packages = ()
    no_batch = ("runs in a Rust runner (runners/rust) whose generate request carries one "
                "prompt and one KV cache")

    @classmethod
    def available(cls) -> bool:
        """Built, and answering `--version` (a binary from a broken build is not)."""
        return runner_available(cls.binary)

    @classmethod
    def version(cls) -> str | None:
        return identity(binary_path(cls.binary))["version"] if cls.available() else None

    @classmethod
    def package_versions(cls) -> dict[str, str | None]:
        return {cls.name: cls.version()}

    def build_info(self) -> dict:
        return runner_build(self.binary)

    def artifact_file(self, artifact: Path, precision: str) -> Path | None:
        """The file in `artifact` the runner loads, for precisions that need one."""
        return None

    def load_notes(self, precision: str) -> list[str]:
        """What the adapter knows about how `precision` is run, for the cell's notes."""
        return []

    def load(self, ckpt: Checkpoint, artifact: Path, precision: str, device: str,
             threads: int, context: int) -> LoadedModel:
        path = binary_path(self.binary)
        if path is None:
            raise RuntimeError(f"{self.binary} is not built; run: {self.install}")
        file = self.artifact_file(artifact, precision)
        job = {"model_dir": str(ckpt.path), "config": ckpt.config.to_dict(),
               "artifact": str(file) if file else None,
               "precision": precision, "threads": threads, "device": device,
               "context": context}
        runner = RunnerProcess(path, job)
        ready = runner.read("ready")
        skew = time.perf_counter() - ready["now"]
        if not 0 <= skew < CLOCK_SLACK_S:
            runner.proc.kill()
            raise RuntimeError(f"{self.binary}'s clock is {skew:.3f} s off perf_counter's; "
                               "its token times cannot be compared with the harness's")
        loaded = f"{self.binary} loaded in {ready['load_s']:.3f} s, {ready['threads']} threads"
        notes = [*self.load_notes(precision), *ready["notes"], loaded]
        return LoadedModel(runner, notes)

    def generate(self, model: LoadedModel, prompt_ids: list[int], new_tokens: int
                 ) -> Generation:
        reply = model.handle.request("generation", {"op": "generate", "prompt_ids": prompt_ids,
                                                    "new_tokens": new_tokens})
        return Generation(reply["ids"], reply["times"])

    def logits(self, model: LoadedModel, ids: list[int]) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix=temp_prefix("logits")) as tmp:
            out = Path(tmp) / "logits.f32"
            reply = model.handle.request("logits", {"op": "logits", "ids": ids,
                                                    "out": str(out)})
            data = np.fromfile(out, dtype="<f4")
        return data.reshape(reply["rows"], reply["vocab"])

    def process_peak_rss_mb(self, model: LoadedModel) -> float | None:
        return peak_rss_of(model.handle.proc.pid)

    def close(self, model: LoadedModel) -> None:
        done = model.handle.close()
        if done.get("peak_rss_mb"):
            model.notes.append(f"{self.binary}'s own peak RSS {done['peak_rss_mb']:.0f} MB "
                               "(the cell's peak RSS is the larger of it and the adapter "
                               "process's)")
