"""The header every run document starts with (schema version, run id, when, the command,
the machine, the environment) and the path the document is saved at: one for model and ops
runs alike."""

import secrets
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

from enginebench.errors import UserError
from enginebench.measure.environment import environment, machine
from enginebench.results.schema import SCHEMA_VERSION


def run_header(machine_label: str, out_root: Path, prefix: str = "",
               command: str | None = None, extra_env: dict | None = None
               ) -> tuple[dict, Path]:
    """The header fields and OUT/<machine>/<prefix><run_id>.json (its folder created); the
    run id is the UTC start time and 6 random hex digits."""
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
