"""Engine artifacts cached on disk, keyed by (checkpoint, engine, precision, converter).

A finished artifact directory carries a marker with the size and SHA-256 of every file in
it; a cached artifact is used only when every file still matches, so a truncated or
corrupted file is found and rebuilt, never benchmarked.
"""

import hashlib
import json
import shutil
from pathlib import Path

from enginebench.engines.base import Engine
from enginebench.models.checkpoint import Checkpoint, weight_files
from enginebench.paths import cache_root

MARKER = "enginebench-artifact.json"
HASH_BLOCK = 8 << 20


def artifact_dir(ckpt: Checkpoint, engine: type[Engine], precision: str) -> Path:
    key = f"{ckpt.fingerprint}:{engine.name}:{precision}:{engine.converter_version}:" \
          f"{engine.version()}"
    if extra := engine.artifact_key(precision):
        key += f":{extra}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return cache_root() / "artifacts" / engine.name / f"{ckpt.name}-{precision}-{digest}"


def _files(path: Path) -> list[Path]:
    return sorted(f for f in path.rglob("*") if f.is_file() and f.name != MARKER)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def verify(path: Path) -> tuple[float | None, str | None]:
    """(conversion time, None) for a complete cached artifact; (None, why) otherwise.

    `why` is None when there is simply no artifact yet, else what failed the check.
    """
    marker = path / MARKER
    if not marker.is_file():
        return None, None
    try:
        record = json.loads(marker.read_text())
        expected: dict[str, list] = record["files"]
        convert_s = float(record["convert_s"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None, f"{marker} is unreadable"
    actual = {str(f.relative_to(path)) for f in _files(path)}
    if actual != set(expected):
        return None, f"{path}: files {sorted(actual ^ set(expected))} missing or unexpected"
    for rel, (size, digest) in expected.items():
        f = path / rel
        if f.stat().st_size != size:
            return None, f"{f} is {f.stat().st_size} bytes, {size} when it was written"
        if _sha256(f) != digest:
            return None, f"{f} does not match the checksum it was written with"
    return convert_s, None


def commit(tmp: Path, final: Path, convert_s: float) -> None:
    """Record sizes and checksums of a freshly converted artifact and move it into place."""
    files = {str(f.relative_to(tmp)): [f.stat().st_size, _sha256(f)] for f in _files(tmp)}
    (tmp / MARKER).write_text(json.dumps({"convert_s": convert_s, "files": files}, indent=1))
    discard(final)
    tmp.rename(final)


def discard(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def size_bytes(path: Path) -> int:
    """Bytes on disk of an artifact directory, its marker excluded."""
    return sum(f.stat().st_size for f in _files(path))


def checkpoint_bytes(ckpt: Checkpoint) -> int:
    return sum(f.stat().st_size for f in weight_files(ckpt.path))
