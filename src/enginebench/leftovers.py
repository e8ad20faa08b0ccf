"""Temp folders named after the process that owns them, and the sweep that removes those
whose owner is gone (a harness or cell killed outright cannot clean up after itself).

Two names are used: `enginebench-<kind>-<pid>-<random>` in the system temp folder, and
`<final>.tmp-<pid>` beside a cache entry being built. A folder is removed only when no
process with its pid is alive, so a second run going on beside this one keeps its own.
"""

import os
import re
import shutil
import tempfile
from pathlib import Path

import psutil

TEMP_NAME = re.compile(r"^enginebench-[a-z]+-(\d+)-")
STAGED_NAME = re.compile(r"\.tmp-(\d+)$")


def temp_prefix(kind: str) -> str:
    """Prefix for a temp folder of this process (`tempfile.mkdtemp(prefix=...)`)."""
    return f"enginebench-{kind}-{os.getpid()}-"


def staged(final: Path) -> Path:
    """Where this process builds `final` before renaming it into place."""
    return final.with_name(f"{final.name}.tmp-{os.getpid()}")


def _owner_gone(name: str, pattern: re.Pattern[str]) -> bool:
    match = pattern.search(name)
    return bool(match) and not psutil.pid_exists(int(match.group(1)))


def sweep(cache: Path, temp: Path | None = None) -> list[Path]:
    """Remove the temp folders and staged cache entries of processes that are gone; the
    paths removed."""
    found = []
    temp = temp or Path(tempfile.gettempdir())
    if temp.is_dir():
        found += [p for p in temp.glob("enginebench-*") if _owner_gone(p.name, TEMP_NAME)]
    if cache.is_dir():
        # models/<name>.tmp-<pid>, artifacts/<engine>/<name>.tmp-<pid>, tools/...
        for depth in ("*", "*/*", "*/*/*"):
            found += [p for p in cache.glob(f"{depth}.tmp-*")
                      if _owner_gone(p.name, STAGED_NAME)]
    for path in found:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return found
