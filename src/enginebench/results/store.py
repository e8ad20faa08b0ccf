"""Run documents (suite runs and ops runs) on disk: atomic writes, validated reads with
one-line errors."""

import json
import os
import stat
import tempfile
from pathlib import Path

from pydantic import ValidationError

from enginebench.errors import UserError, field_error
from enginebench.results.schema import SCHEMA_VERSION, OpsRun, Run

Document = Run | OpsRun
KINDS: dict[str | None, type[Document]] = {None: Run, "ops": OpsRun}


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temp file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_path(root: Path, run: Document) -> Path:
    return root / run.machine.label / f"{run.run_id}.json"


def save_run(run: Document, path: Path) -> Path:
    """Validate `run` and write it atomically to `path`."""
    type(run).model_validate(run.model_dump())
    write_atomic(path, run.model_dump_json(indent=1))
    return path


def load_run(path: Path) -> Run:
    """Read and validate a suite run; an ops run or any problem is one line naming the file."""
    doc = load_document(path)
    if not isinstance(doc, Run):
        raise UserError(f"{path}: an ops run, not a suite run (`enginebench show` "
                        "prints either)")
    return doc


def read_text(path: Path, what: str = "results file") -> str:
    """The UTF-8 text of the regular file `path`; anything else is one UserError line. A
    directory, FIFO or device is refused from its stat and never opened (opening a FIFO
    waits for a writer); the open is non-blocking and checked again, for a file swapped
    in between."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise UserError(f"{path}: not a regular file, so not a {what}")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise UserError(f"{path}: not a regular file, so not a {what}")
            data = f.read()
    except FileNotFoundError as e:
        raise UserError(f"{path}: no such {what}") from e
    except OSError as e:
        raise UserError(f"{path}: cannot be read ({e.strerror or e})") from e
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e})") from e


def parse_json(path: Path, text: str) -> object:
    """`text` (read from `path`) as JSON; invalid or too deeply nested is one line."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        why = "nested too deeply" if isinstance(e, RecursionError) else e
        raise UserError(f"{path}: not valid JSON ({why})") from e


def load_document(path: Path) -> Document:
    """Read and validate a results document of either kind (its `kind` field says which);
    any problem is one line naming the file and field."""
    text = read_text(path)
    kind = OpsRun if '"kind": "ops"' in text[:200] else Run
    try:
        return kind.model_validate_json(text)  # the fast path; a bad file is explained below
    except ValidationError as e:
        first = e.errors()[0]
        if first["type"] == "json_invalid" and "recursion" in first["msg"]:
            # json.loads below might parse it, and every later dump or render fail
            raise UserError(f"{path}: not valid JSON (nested too deeply)") from e
    data = parse_json(path, text)
    if not isinstance(data, dict):
        raise UserError(f"{path}: field (document): expected a JSON object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise UserError(f"{path}: field schema_version: {version!r} is not supported "
                        f"(this enginebench reads version {SCHEMA_VERSION})")
    if data.get("kind") not in KINDS:
        raise UserError(f"{path}: field kind: {data.get('kind')!r} is not a results kind "
                        "(absent for suite runs, \"ops\" for ops runs)")
    try:
        return KINDS[data.get("kind")].model_validate(data)
    except ValidationError as e:
        raise field_error(path, e) from e


def list_runs(root: Path) -> list[Path]:
    """Every `root/<machine>/*.json`, whatever it is: load_document refuses a directory,
    FIFO or link loop among them with one line, so a caller can list it and go on."""
    return sorted(root.glob("*/*.json"))
