"""Run a job in a fresh child process with a timeout, and measure its peak memory.

Every child is `python -m enginebench.measure.child` given a typed job (measure/job.py).
The child reports its own peak resident memory (`own_peak_rss_mb`); `os.wait4`'s resource
usage of exactly that child stands in when it crashed before reporting. A segfault, a kill
by the OOM killer, a hang past the timeout or a Python error all come back as a status
with a message; nothing escapes to the suite.

The child leads its own process group, and so do whatever it starts (a converter, a Rust
runner). It dies with the harness: an interrupt or SIGTERM of the harness kills the group
here, and a harness killed outright (SIGKILL) is noticed by the child's own watchdog
(`watch_parent`), which kills the group. Temp folders are named after the harness's pid,
so the next run can sweep what a killed one left (leftovers.py).
"""

import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from pydantic import ValidationError

from enginebench.leftovers import temp_prefix
from enginebench.measure.job import ChildResult, MeasureJob, OpsJob, PrepareJob, ReferenceJob

POLL_S = 0.02
STDERR_TAIL = 1500

CHILD = "enginebench.measure.child"
# the harness's pid, given to the child so that it can tell when the harness is gone
PARENT_ENV = "ENGINEBENCH_PARENT_PID"
WATCH_S = 0.2


def watch_parent() -> None:
    """In a child: kill this child's whole process group (itself, its converter or runner)
    as soon as the harness that started it has died, whatever killed it."""
    parent = int(os.environ.get(PARENT_ENV, "0") or 0)
    if not parent:
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_S)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="enginebench-parent-watch", daemon=True).start()


def peak_rss_of(pid: int | str = "self") -> float | None:
    """A live process's peak resident memory so far (VmHWM), MB; None where unreadable."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    line = next((x for x in status.splitlines() if x.startswith("VmHWM:")), None)
    return None if line is None else int(line.split()[1]) / 1024


def own_peak_rss_mb() -> float | None:
    """This process's peak resident memory since it exec'd (VmHWM: the harness's pages a
    forked child shared before exec do not count), or that of a process it waited for
    (a runner, a converter) if larger."""
    own = peak_rss_of()
    if own is None:
        return None
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "RAYON_NUM_THREADS"):
        env[var] = str(threads)
    env["TOKENIZERS_PARALLELISM"] = "false"
    env["PYTHONUNBUFFERED"] = "1"
    env[PARENT_ENV] = str(os.getpid())
    return env


def _describe_exit(code: int, stderr: str) -> str:
    if code < 0:
        name = signal.Signals(-code).name
        why = " (out of memory?)" if name == "SIGKILL" else ""
        text = f"process killed by {name}{why}"
    else:
        text = f"process exited with code {code} without a result"
    tail = stderr.strip()[-STDERR_TAIL:]
    return f"{text}; stderr: {tail}" if tail else text


def run_isolated(job: PrepareJob | MeasureJob | ReferenceJob | OpsJob, timeout_s: float,
                 threads: int) -> ChildResult:
    """Run `job` in `python -m enginebench.measure.child JOB RESULT`; its result (of the
    job's `result_type`), with the child's peak memory.

    A child that wrote a result and then died or timed out (ops children write after every
    case) keeps what it wrote, with `process_error` saying how it ended."""
    with tempfile.TemporaryDirectory(prefix=temp_prefix("cell")) as tmp:
        job_file, result_file = Path(tmp) / "job.json", Path(tmp) / "result.json"
        stderr_file = Path(tmp) / "stderr.txt"
        job_file.write_text(job.model_dump_json())
        with open(stderr_file, "w") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", CHILD, str(job_file), str(result_file)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                # os.setsid as a preexec_fn (not start_new_session) makes Python fork
                # instead of vfork: a vforked child's ru_maxrss starts at the parent's
                # peak RSS (the bandwidth arrays, an earlier model), a forked one's at the
                # parent's current RSS only.
                env=child_env(threads), preexec_fn=os.setsid,
            )
            status, rusage, timed_out = _wait(proc, timeout_s)
        # the kernel's figure for a child that could not report: it starts at the
        # harness's resident memory when the child was forked
        peak = rusage.ru_maxrss / 1024 if rusage else None
        code = None if timed_out else os.waitstatus_to_exitcode(status)
        ended = f"no result within {timeout_s:g} s; killed" if timed_out else \
            _describe_exit(code, stderr_file.read_text(errors="replace"))
        result = _read_result(job, result_file)
        if isinstance(result, str):
            status = "timeout" if timed_out else "failed"
            result = job.result_type(status=status, error=f"{result}; {ended}" if (
                timed_out or code) else result)
        elif result is None:
            result = job.result_type(status="timeout" if timed_out else "failed", error=ended)
        elif timed_out or code:
            result.process_error = ended
        result.peak_rss_mb = result.peak_rss_mb or peak
        return result


def _read_result(job: PrepareJob | MeasureJob | ReferenceJob | OpsJob, path: Path
                 ) -> ChildResult | str | None:
    """The child's result; None when it wrote none, or why what it wrote is unusable."""
    if not path.is_file():
        return None
    try:
        return job.result_type.model_validate_json(path.read_text())
    except (ValidationError, ValueError, OSError) as e:
        first = str(e).splitlines()
        return f"the cell wrote an invalid result ({' '.join(first[:3])})"


def _wait(proc: subprocess.Popen, timeout_s: float
          ) -> tuple[int, "os.struct_rusage | None", bool]:
    """Wait for the child; kill its process group past the deadline or on interrupt."""
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                return status, rusage, False
            if time.monotonic() > deadline:
                break
            time.sleep(POLL_S)
    except BaseException:  # Ctrl-C: the child runs in its own session and would outlive us
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    os.killpg(proc.pid, signal.SIGKILL)
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return status, rusage, True
