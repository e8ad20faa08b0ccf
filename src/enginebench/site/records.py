"""Every results file under the data folder (native runs under results/, asv's under
asv/results/) as validated runs; an unreadable file is listed, never fatal."""

import re
from dataclasses import dataclass, field
from pathlib import Path

from enginebench.errors import UserError
from enginebench.results.asv_import import asv_file_runs, asv_files
from enginebench.results.schema import Cell, OpsRun, Run
from enginebench.results.store import list_runs, load_document


@dataclass
class Skipped:
    path: Path
    reason: str


@dataclass
class Results:
    """Runs and ops runs oldest first, and the files that could not be read with the
    reason."""

    runs: list[Run] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    ops_runs: list[OpsRun] = field(default_factory=list)

    def ops_machines(self) -> list[str]:
        return sorted({r.machine.label for r in self.ops_runs})

    def machines(self) -> list[str]:
        return sorted({r.machine.label for r in self.runs})

    def models(self, machine: str) -> list[str]:
        return sorted({model_name(r) for r in self.runs if r.machine.label == machine})

    def of(self, machine: str, model: str | None = None) -> list[Run]:
        return [r for r in self.runs if r.machine.label == machine
                and (model is None or model_name(r) == model)]

    def latest(self, machine: str, model: str) -> Run:
        return self.of(machine, model)[-1]


def slug(text: str) -> str:
    """A file name for a run id or machine label: anything unusual becomes `-`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-") or "x"


def model_name(run: Run | OpsRun) -> str:
    return str(run.model.get("name") or "unnamed")


def cell_key(cell: Cell) -> str:
    """One line of a chart or one row of a table: engine and precision (and a non-CPU device)."""
    device = "" if cell.device == "cpu" else f" @{cell.device}"
    return f"{cell.engine} {cell.precision}{device}"


def load_results(data_dir: Path) -> Results:
    """Read `data_dir/results/<machine>/*.json`; bad files go to `skipped` with the reason."""
    if not data_dir.is_dir():
        raise UserError(f"{data_dir}: no such data folder (results are under "
                        "data/results/<machine>/; pass --data DIR)")
    out = Results()
    for path in list_runs(data_dir / "results"):
        try:
            doc = load_document(path)
        except UserError as e:
            out.skipped.append(Skipped(path, str(e)))
            continue
        (out.ops_runs if isinstance(doc, OpsRun) else out.runs).append(doc)
    for path in asv_files(data_dir / "asv" / "results"):
        try:
            out.runs += asv_file_runs(path)
        except UserError as e:
            out.skipped.append(Skipped(path, str(e)))
    out.runs.sort(key=lambda r: (r.created_at, r.run_id))
    out.ops_runs.sort(key=lambda r: (r.created_at, r.run_id))
    return out
