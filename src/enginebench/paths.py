"""Where enginebench keeps its caches (generated models, converted artifacts)."""

import os
from pathlib import Path


def cache_root() -> Path:
    """Root of the on-disk cache: $ENGINEBENCH_CACHE, else ~/.cache/enginebench."""
    env = os.environ.get("ENGINEBENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "enginebench"
