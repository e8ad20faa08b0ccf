"""Full SHA-256 digests of checkpoint files, each computed once per version of the file.

Digests are kept in a small JSON file in the cache, keyed by a file's resolved path with
its size, mtime_ns, ctime_ns and inode: a file that was not rewritten is not read again,
and any rewrite (or a copy over it that kept the modification time) is hashed again in
full, in blocks, so a 14 GB weights file never sits in memory. A digest is kept only once
the file is older than the filesystem's timestamp granularity can hide (as git does for
"racy" files): a second write within the same clock tick would not change mtime_ns.
"""

import hashlib
import json
import os
import time
from pathlib import Path

from enginebench.leftovers import staged
from enginebench.paths import cache_root

CACHE_FILE = "file-digests.json"
BLOCK = 8 << 20
RACY_NS = 2_000_000_000  # a file modified this recently is hashed again next time


def sha256_file(path: Path) -> str:
    """SHA-256 of every byte of `path`, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            h.update(block)
    return h.hexdigest()


def _read(cache: Path) -> dict[str, dict]:
    try:
        data = json.loads(cache.read_text())
    except (OSError, ValueError, RecursionError):
        return {}  # a missing or damaged cache only costs a rehash
    return data if isinstance(data, dict) else {}


def _write(cache: Path, data: dict[str, dict]) -> None:
    """Replace the cache file atomically, dropping entries of files that are gone."""
    data = {k: v for k, v in data.items() if os.path.exists(k)}
    tmp = staged(cache)  # swept by a later run if this process dies before the rename
    try:
        tmp.write_text(json.dumps(data, indent=0, sort_keys=True))
        os.replace(tmp, cache)
    except OSError:
        tmp.unlink(missing_ok=True)  # the digests are still right, only not kept


def _stamp(st: os.stat_result) -> dict[str, int]:
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns,
            "ino": st.st_ino}


def file_digests(files: list[Path]) -> dict[Path, str]:
    """The SHA-256 of each of `files`, from the cache where the file is unchanged."""
    cache = cache_root() / CACHE_FILE
    data = _read(cache)
    out: dict[Path, str] = {}
    changed = False
    for f in files:
        st = f.stat()  # before reading: a rewrite during hashing changes the key
        key, stamp = str(f.resolve()), _stamp(st)
        entry = data.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("sha256"), str) \
                and all(entry.get(k) == v for k, v in stamp.items()):
            out[f] = entry["sha256"]
            continue
        out[f] = sha256_file(f)
        if time.time_ns() - st.st_mtime_ns > RACY_NS:
            data[key] = {**stamp, "sha256": out[f]}
            changed = True
    if changed:
        _write(cache, data)
    return out
