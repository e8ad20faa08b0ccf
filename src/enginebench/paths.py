"""Where enginebench keeps its caches (generated models, converted artifacts)."""

import os
from pathlib import Path

from enginebench.errors import UserError


def cache_root() -> Path:
    """Root of the on-disk cache: $ENGINEBENCH_CACHE, else ~/.cache/enginebench; created
    if missing. One that is not a writable directory is a UserError saying what to do."""
    env = os.environ.get("ENGINEBENCH_CACHE")
    root = Path(env) if env else Path.home() / ".cache" / "enginebench"
    what = f"ENGINEBENCH_CACHE={env}" if env else f"the cache folder {root}"
    fix = ("point ENGINEBENCH_CACHE at a directory you can write to" if env else
           "set ENGINEBENCH_CACHE to a directory you can write to")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        reason = "exists and is not a directory" if root.exists() else \
            f"cannot be created ({e.strerror or e})"
        raise UserError(f"{what} is not a directory: it {reason}; {fix}") from e
    if not os.access(root, os.W_OK | os.X_OK):
        raise UserError(f"{what} is not a writable directory; {fix}")
    return root
