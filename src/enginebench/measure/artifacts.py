"""Engine artifacts cached on disk, keyed by (checkpoint, engine, precision, converter).

A finished artifact directory carries a marker with the size and SHA-256 of every file in
it; a cached artifact is used only when every file still matches, so a truncated or
corrupted file is found and rebuilt, never benchmarked.
"""

import hashlib
import json
import math
import shutil
from pathlib import Path

from enginebench.engines.base import Engine
from enginebench.models.checkpoint import Checkpoint, weight_files
from enginebench.models.digest import sha256_file
from enginebench.paths import cache_root

MARKER = "enginebench-artifact.json"


def artifact_dir(ckpt: Checkpoint, engine: type[Engine], precision: str) -> Path:
    key = f"{ckpt.fingerprint}:{engine.name}:{precision}:{engine.converter_version}:" \
          f"{engine.version()}"
    if extra := engine.artifact_key(precision):
        key += f":{extra}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return cache_root() / "artifacts" / engine.name / f"{ckpt.name}-{precision}-{digest}"


def _files(path: Path) -> list[Path]:
    return sorted(f for f in path.rglob("*") if f.is_file() and f.name != MARKER)


def _marker(marker: Path) -> tuple[float, dict[str, tuple[int, str]]] | str:
    """(conversion time, rel path -> (size, digest)) from a marker, or why it is unusable."""
    try:
        record = json.loads(marker.read_text())
    except (OSError, ValueError, RecursionError) as e:
        return f"{marker} is unreadable ({type(e).__name__})"
    if not isinstance(record, dict) or not isinstance(record.get("files"), dict):
        return f"{marker} is not an object with a files table"
    convert_s = record.get("convert_s")
    if not isinstance(convert_s, int | float) or isinstance(convert_s, bool) \
            or not math.isfinite(convert_s) or convert_s < 0:
        return f"{marker} has no usable convert_s"
    files: dict[str, tuple[int, str]] = {}
    for rel, entry in record["files"].items():
        if not (isinstance(entry, list) and len(entry) == 2 and type(entry[0]) is int
                and isinstance(entry[1], str)):
            return f"{marker}: entry {rel!r} is not [size, sha256]"
        files[rel] = (entry[0], entry[1])
    return float(convert_s), files


def verify(path: Path) -> tuple[float | None, str | None]:
    """(conversion time, None) for a complete cached artifact; (None, why) otherwise.

    `why` is None when there is simply no artifact yet, else what failed the check (a
    malformed marker included, so the artifact is rebuilt).
    """
    marker = path / MARKER
    if not marker.is_file():
        return None, None
    parsed = _marker(marker)
    if isinstance(parsed, str):
        return None, parsed
    convert_s, expected = parsed
    try:
        actual = {str(f.relative_to(path)) for f in _files(path)}
        if actual != set(expected):
            return None, f"{path}: files {sorted(actual ^ set(expected))} missing or unexpected"
        for rel, (size, digest) in expected.items():
            f = path / rel
            if f.stat().st_size != size:
                return None, f"{f} is {f.stat().st_size} bytes, {size} when it was written"
            if sha256_file(f) != digest:
                return None, f"{f} does not match the checksum it was written with"
    except OSError as e:
        return None, f"{path} cannot be read ({e})"
    return convert_s, None


def commit(tmp: Path, final: Path, convert_s: float) -> None:
    """Record sizes and checksums of a freshly converted artifact and move it into place."""
    files = {str(f.relative_to(tmp)): [f.stat().st_size, sha256_file(f)] for f in _files(tmp)}
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


def is_cached(ckpt: Checkpoint, engine: type[Engine], precision: str) -> bool:
    """Whether the cell's artifact is on disk with a readable marker, so no conversion is
    expected before it (`verify` still checks every file's digest before it is used);
    True where the precision runs from the checkpoint itself (nothing to convert)."""
    if not engine.needs_artifact(precision):
        return True
    return isinstance(_marker(artifact_dir(ckpt, engine, precision) / MARKER), tuple)
