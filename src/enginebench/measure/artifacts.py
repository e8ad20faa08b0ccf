"""Engine artifacts cached on disk, keyed by (checkpoint, engine, precision, converter)."""

import hashlib
import json
import shutil
from pathlib import Path

from enginebench.engines.base import Engine
from enginebench.models.checkpoint import Checkpoint, weight_files
from enginebench.paths import cache_root

MARKER = "enginebench-artifact.json"


def artifact_dir(ckpt: Checkpoint, engine: type[Engine], precision: str) -> Path:
    key = f"{ckpt.fingerprint}:{engine.name}:{precision}:{engine.converter_version}:" \
          f"{engine.version()}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return cache_root() / "artifacts" / engine.name / f"{ckpt.name}-{precision}-{digest}"


def cached_convert_s(path: Path) -> float | None:
    """Conversion time recorded when the cached artifact was made, or None if not cached."""
    marker = path / MARKER
    if not marker.is_file():
        return None
    return float(json.loads(marker.read_text())["convert_s"])


def commit(tmp: Path, final: Path, convert_s: float) -> None:
    """Mark a freshly converted artifact complete and move it into place."""
    (tmp / MARKER).write_text(json.dumps({"convert_s": convert_s}))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)


def size_bytes(path: Path) -> int:
    """Bytes on disk of an artifact (a file or every file under a directory)."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and f.name != MARKER)


def checkpoint_bytes(ckpt: Checkpoint) -> int:
    return sum(f.stat().st_size for f in weight_files(ckpt.path))
