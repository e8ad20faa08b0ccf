"""The Rust runners' ops mode (`runner --ops`): one runner process runs and times every case.

The runner reads each case's inputs from raw little-endian float32 files, converts them to
the precision (not timed), runs the op once and writes its output as raw float32, then times
the op with the same plan as ops/timing.py and answers with seconds per call per sample.
"""

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np

from enginebench.engines.base import OpRun, OpsEngine, Unsupported
from enginebench.engines.rust.runner import (
    RunnerProcess,
    RustRunnerEngine,
    binary_path,
    runner_available,
    runner_build,
)
from enginebench.leftovers import temp_prefix
from enginebench.ops.cases import OpCase
from enginebench.ops.timing import TimingPlan


class RustRunnerOps(OpsEngine):
    """An ops adapter whose ops run in a compiled runner; subclasses name the runner's model
    face (`model`), whose `binary` it starts with `--ops`."""

    model: ClassVar[type[RustRunnerEngine]]
    modules = ()

    def __init__(self, threads: int, device: str = "cpu") -> None:
        super().__init__(threads, device)
        self._runner: RunnerProcess | None = None
        self._tmp: Path | None = None
        self.ready: dict | None = None  # the runner's `ready` line, once started

    @classmethod
    def available(cls) -> bool:
        return runner_available(cls.model.binary)

    def build_info(self) -> dict:
        return runner_build(self.model.binary)

    def prepare(self, case: OpCase, inputs: dict[str, np.ndarray], precision: str
                ) -> Callable[[], object]:
        raise NotImplementedError(f"{self.model.binary} runs and times ops itself: call run()")

    def _process(self) -> RunnerProcess:
        """The runner, started at the first case (again if an earlier case ended it)."""
        if self._runner is not None and self._runner.proc.poll() is not None:
            self._drop()
        if self._runner is None:
            path = binary_path(self.model.binary)
            if path is None:
                raise RuntimeError(f"{self.model.binary} is not built; run: {self.install}")
            self._runner = RunnerProcess(path, {"threads": self.threads,
                                                "device": self.device}, args=["--ops"])
            try:
                self.ready = self._runner.read("ready")
            except BaseException:
                self._drop()
                raise
        return self._runner

    def run(self, case: OpCase, inputs: dict[str, np.ndarray], precision: str,
            plan: TimingPlan) -> OpRun:
        runner = self._process()
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix=f"{temp_prefix('ops')}{self.name}-"))
        files, paths = {}, []
        for name, value in inputs.items():
            path = self._tmp / f"{name}.f32"
            np.ascontiguousarray(value, dtype="<f4").tofile(path)
            files[name] = {"path": str(path), "shape": list(value.shape)}
            paths.append(path)
        out = self._tmp / "out.f32"
        paths.append(out)
        request = {"op": case.op, "precision": precision, "inputs": files,
                   "params": case.params, "out": str(out), "plan": plan.to_dict()}
        try:
            try:
                reply = runner.request("op", request)
            except RuntimeError:
                self._drop()  # it died or broke the protocol: the next case starts a new one
                raise
            status = reply.get("status")
            if status == "unsupported":
                raise Unsupported(reply.get("error") or f"{self.model.binary}: unsupported")
            if status != "ok":
                raise RuntimeError(f"{self.model.binary} {case.name} at {precision}: "
                                   f"{reply.get('error') or json.dumps(reply)}")
            output = np.fromfile(out, dtype="<f4").astype(np.float32, copy=False)
        finally:
            for path in paths:
                path.unlink(missing_ok=True)
        return OpRun(output.reshape(reply["out_shape"]), reply["calls"], reply["samples_s"],
                     reply.get("notes", []))

    def _drop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            if runner.proc.poll() is None:
                runner.proc.kill()
                runner.proc.wait()
            runner.stderr.close()

    def close(self) -> None:
        """End the runner (EOF on stdin, then its `done` line) and remove the input files."""
        runner, self._runner = self._runner, None
        try:
            if runner is not None:
                if runner.proc.poll() is None:
                    runner.close()
                else:
                    runner.stderr.close()
        finally:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None
