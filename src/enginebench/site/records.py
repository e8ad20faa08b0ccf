"""Every results file under the data folder (native runs under results/, asv's under
asv/results/) as validated runs; an unreadable file is listed, never fatal."""

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from enginebench.errors import UserError
from enginebench.report.safe import plain
from enginebench.results.asv_import import asv_file_runs, asv_files, asv_twin_key
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
    # run id -> the results file it was read from (asv's runs have no file of their own)
    sources: dict[str, Path] = field(default_factory=dict)

    def ops_machines(self) -> list[str]:
        return sorted({r.machine.label for r in self.ops_runs})

    def machines(self) -> list[str]:
        return sorted({r.machine.label for r in self.runs})

    def models(self, machine: str) -> list[str]:
        """The machine's models, largest first (a 7B headline, then a trained small model,
        then the random-weight presets); ties by name."""
        params: dict[str, int] = {}
        for r in self.runs:
            if r.machine.label == machine:
                params[model_name(r)] = int(r.model.get("params") or 0)
        return sorted(params, key=lambda m: (-params[m], m))

    def of(self, machine: str, model: str | None = None) -> list[Run]:
        return [r for r in self.runs if r.machine.label == machine
                and (model is None or model_name(r) == model)]

    def latest(self, machine: str, model: str) -> Run:
        return self.of(machine, model)[-1]


# names MkDocs gives a meaning of their own in a folder (README.md is taken as its index)
RESERVED = ("index", "readme")
SLUG_CHARS = 64


def slug(text: str) -> str:
    """A page file name (and anchor) for a run id, machine label or model: the text itself
    when it is a plain name; otherwise its safe characters (anything unusual becomes `-`,
    leading dots go: MkDocs skips dotfiles) and a hash of the whole text, so two texts
    never share a page."""
    text = str(text)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", text).lstrip(".-").rstrip("-")
    if text and safe == text and len(text) <= SLUG_CHARS and text.lower() not in RESERVED:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{safe[:SLUG_CHARS]}-{digest}" if safe else digest


def model_name(run: Run | OpsRun) -> str:
    return str(run.model.get("name") or "unnamed")


def cell_key(cell: Cell) -> str:
    """One line of a chart or one row of a table: engine and precision (and a non-CPU device)."""
    device = "" if cell.device == "cpu" else f" @{cell.device}"
    return f"{cell.engine} {cell.precision}{device}"


def is_sweep(run: Run) -> bool:
    """Whether the run's cells span more than one workload point."""
    return len({run.point(c) for c in run.cells}) > 1


def cell_label(run: Run, cell: Cell, sweep: bool) -> str:
    """`cell_key`, and the cell's point where the run sweeps (`sweep`: `is_sweep(run)`)."""
    return f"{cell_key(cell)} {run.point(cell).label}" if sweep else cell_key(cell)


def load_results(data_dir: Path) -> Results:
    """Read `data_dir/results/<machine>/*.json` (and asv's files); bad files go to
    `skipped` with the reason (one line, control characters stripped), as does a second
    file with a run id already read."""
    if not data_dir.is_dir():
        raise UserError(f"{data_dir}: no such data folder (results are under "
                        "data/results/<machine>/; pass --data DIR)")
    out = Results()
    pages: dict[str, Path] = {}  # a run's page name -> the file it was read from

    def add(path: Path, run: Run, own_file: bool) -> None:
        """One page per run: a second file with a run id already read is listed, not shown
        (a copy of a run would count twice in its trends)."""
        first = pages.get(key := slug(run.run_id))
        if first is None:
            pages[key] = path
            out.runs.append(run)
            if own_file:
                out.sources[run.run_id] = path
        else:
            out.skipped.append(Skipped(path, plain(
                f"{path}: run id {run.run_id!r} is also in {first}; each run is shown once")))

    for path in list_runs(data_dir / "results"):
        try:
            doc = load_document(path)
        except UserError as e:
            out.skipped.append(Skipped(path, plain(e)))
            continue
        if isinstance(doc, OpsRun):
            out.ops_runs.append(doc)
        else:
            add(path, doc, own_file=True)
    # an asv results file whose measurement has its run documents here (the nightly commits
    # both) is that measurement again, with medians only: the documents are shown
    documented = {key for run in out.runs if (key := asv_twin_key(run))}
    for path in asv_files(data_dir / "asv" / "results"):
        try:
            runs = asv_file_runs(path)
        except UserError as e:
            out.skipped.append(Skipped(path, plain(e)))
            continue
        for run in runs:
            if asv_twin_key(run) not in documented:
                add(path, run, own_file=False)
    out.runs.sort(key=lambda r: (r.created_at, r.run_id))
    out.ops_runs.sort(key=lambda r: (r.created_at, r.run_id))
    return out
