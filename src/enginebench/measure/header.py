"""The header every run document starts with (schema version, run id, when, the command,
the machine, the environment), the path the document is saved at, and its saving: one for
model and ops runs alike."""

import re
import secrets
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

from enginebench.errors import UserError
from enginebench.measure.environment import environment, machine
from enginebench.results.schema import MACHINE_LABEL, SCHEMA_VERSION, OpsRun, Run
from enginebench.results.store import save_run


def check_machine_label(label: str) -> str:
    """`label` if it is one safe folder name; else a one-line error."""
    if not re.fullmatch(MACHINE_LABEL, label):
        raise UserError(f"--machine {label!r}: a machine label is one folder name of "
                        "letters, digits, '-', '_' and '.', not starting with '.' or '-', "
                        "at most 100 characters (results go to OUT/<machine>/)")
    return label


def save_or_stop(doc: Run | OpsRun, path: Path, unsaved: str) -> None:
    """Save `doc` atomically; when the disk refuses (full, read-only, gone), stop the run
    with one line: the file keeps what the last save wrote, and `unsaved` says what is
    lost."""
    try:
        save_run(doc, path)
    except OSError as e:
        kept = f"{path} keeps the last save" if path.is_file() else "nothing was saved"
        raise UserError(f"cannot write {path} ({e.strerror or e}); {kept}, {unsaved} is "
                        "lost and the run stops; free space or pass --out elsewhere") from e


def run_header(machine_label: str, out_root: Path, prefix: str = "",
               command: str | None = None, extra_env: dict | None = None
               ) -> tuple[dict, Path]:
    """The header fields and OUT/<machine>/<prefix><run_id>.json (its folder created); the
    run id is the UTC start time and 6 random hex digits."""
    check_machine_label(machine_label)
    created = datetime.now(UTC)
    run_id = f"{prefix}{created:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    path = out_root / machine_label / f"{run_id}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {out_root}: cannot create {path.parent} ({e.strerror})") from e
    header = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "created_at": created,
        "command": command or shlex.join(["enginebench", *sys.argv[1:]]),
        "machine": machine(machine_label),
        "environment": {**environment(), **(extra_env or {})},
    }
    return header, path
