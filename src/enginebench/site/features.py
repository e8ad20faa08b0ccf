"""The feature matrix: each engine x feature cell is verified by runs, partial (works in
some current runs, not in others), claimed in data/features.yaml with its source, or shown
unsupported, failed or contradicted.

Only current evidence counts: for each machine, model, device and precision, the latest
run that tried it (`current`). A run on one model never supersedes a run on another, so a
short run on a small model cannot outvote a larger one that failed."""

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, HttpUrl

from enginebench.errors import UserError
from enginebench.results.schema import Cell, Run
from enginebench.yamlfile import load_yaml

Verdict = Literal["verified", "partial", "claimed", "unsupported", "failed", "contradicted",
                  "unknown"]

# Evidence a cell gives, as data: a precision class or a device proves a feature.
PRECISION_FEATURES = {"fp16": "fp16", "bf16": "fp16", "int8": "int8", "int4": "int4"}
# measure/memory.py's `refusal`: a cell refused before it ran because it would not fit this
# machine's memory says nothing about the feature either way
DID_NOT_FIT = re.compile(r"needs ~[0-9.]+ GB \(.*\), this machine has [0-9.]+ GB")
DEVICE_FEATURES = {"cpu": "cpu", "cuda": "cuda", "rocm": "rocm", "hip": "rocm", "xpu": "oneapi",
                   "sycl": "oneapi", "mps": "apple", "metal": "apple"}


class Feature(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    label: str


class Claim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    claim: Literal["supported", "partial", "unsupported"]
    source: HttpUrl
    note: str | None = None


class FeatureClaims(BaseModel):
    model_config = ConfigDict(extra="forbid")
    features: list[Feature]
    claims: dict[str, dict[str, Claim]]


@dataclass
class Evidence:
    """One run's cell that shows a feature working or not."""

    run: Run
    cell: Cell

    @property
    def ok(self) -> bool:
        return self.cell.status == "ok"

    @property
    def model(self) -> str:
        return str(self.run.model.get("name") or "unknown model")

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What a later run supersedes: the same machine, model, device and precision."""
        return (self.run.machine.label, self.model, self.cell.device, self.cell.precision)

    def weight(self) -> tuple[float, datetime]:
        """The order the page picks evidence to name in: the largest model, then the latest."""
        params = self.run.model.get("params")
        return (params if isinstance(params, int | float) else 0, self.run.created_at)


@dataclass
class MatrixCell:
    verdict: Verdict
    claim: Claim | None = None
    evidence: list[Evidence] = field(default_factory=list)  # current: see `current`
    superseded: list[Evidence] = field(default_factory=list)  # older runs of the same key

    @property
    def working(self) -> Evidence | None:
        """The working evidence the page names: on the largest model, then the latest."""
        good = [e for e in self.evidence if e.ok]
        return max(good, key=Evidence.weight) if good else None

    @property
    def failing(self) -> Evidence | None:
        """The failure the page names: on the largest model, then the latest."""
        bad = [e for e in self.evidence if not e.ok]
        return max(bad, key=Evidence.weight) if bad else None

    @property
    def shown(self) -> Evidence | None:
        """The evidence the page links first: the failure of a partial cell (its working
        run is linked beside it), else the working run, else the failure."""
        if self.verdict == "partial":
            return self.failing
        return self.working or self.failing


@dataclass
class Matrix:
    features: list[Feature]
    engines: list[str]
    cells: dict[tuple[str, str], MatrixCell]


def load_claims(path: Path) -> FeatureClaims:
    """Read and validate features.yaml; problems are one line naming the file and the field."""
    claims = load_yaml(path, FeatureClaims, "the feature claims: data/features.yaml")
    ids = {f.id for f in claims.features}
    for engine, by_feature in claims.claims.items():
        for feature in by_feature:
            if feature not in ids:
                raise UserError(f"{path}: claims.{engine}.{feature}: unknown feature "
                                f"(features are {', '.join(sorted(ids))})")
    return claims


def features_of(cell: Cell) -> set[str]:
    """Features a cell exercises: inference always, plus its precision class and device."""
    out = {"inference", DEVICE_FEATURES.get(cell.device, "")}
    out.add(PRECISION_FEATURES.get(cell.precision_class, ""))
    return out - {""}


def did_not_fit(cell: Cell) -> bool:
    """The cell was refused before it ran: the machine's memory is too small for it."""
    return cell.status == "unsupported" and bool(DID_NOT_FIT.match(cell.error or ""))


def features_tested(cell: Cell) -> set[str]:
    """Features a cell is evidence for: a working cell shows every feature it exercises; a
    cell that did not work counts only against what it asked beyond plain inference on
    the CPU (its precision, its device), and against inference and the CPU only when it
    asked nothing more (an int8 cell that timed out says nothing against inference). A
    cell that did not fit the machine's memory is evidence for nothing."""
    if did_not_fit(cell):
        return set()
    if cell.status == "ok":
        return features_of(cell)
    specific = {PRECISION_FEATURES.get(cell.precision_class, "")}
    if cell.device != "cpu":
        specific.add(DEVICE_FEATURES.get(cell.device, ""))
    specific -= {""}
    return specific or features_of(cell)


def current(evidence: list[Evidence]) -> tuple[list[Evidence], list[Evidence]]:
    """(current, superseded): of each machine, model, device and precision only the latest
    run's cell counts; the others are superseded. Different models and machines do not
    supersede each other: a run on a small model never outvotes one on a larger one."""
    latest: dict[tuple[str, str, str, str], Evidence] = {}
    for e in evidence:
        if e.key not in latest or e.run.created_at > latest[e.key].run.created_at:
            latest[e.key] = e
    kept = list(latest.values())
    return kept, [e for e in evidence if all(e is not k for k in kept)]


def _verdict(feature: str, evidence: list[Evidence], claim: Claim | None) -> Verdict:
    """The verdict from current evidence: all working is verified, working and not working
    is partial, none working is failed or unsupported; a claim decides only where no run
    works, except that a working run against a claim of unsupported is contradicted."""
    says_yes = claim is not None and claim.claim != "unsupported"
    works = any(e.ok for e in evidence)
    if works and claim is not None and not says_yes:
        return "contradicted"
    if works:
        return "partial" if not all(e.ok for e in evidence) else "verified"
    if evidence:
        if says_yes:
            # a precision that failed on the devices tried may still work on another one
            scoped = feature in PRECISION_FEATURES.values()
            return "claimed" if scoped else "contradicted"
        failed = any(e.cell.status in ("failed", "timeout") for e in evidence)
        return "failed" if failed else "unsupported"
    if claim is None:
        return "unknown"
    return "claimed" if says_yes else "unsupported"


def build_matrix(claims: FeatureClaims, runs: list[Run]) -> Matrix:
    """Engines as columns: in the order runs list them, newest run first (the registry's
    order, which runs keep), then those only the claims name, sorted."""
    ordered = [c.engine for r in sorted(runs, key=lambda r: r.created_at, reverse=True)
               for c in r.headline_cells()]
    engines = list(dict.fromkeys(ordered))
    engines += sorted(set(claims.claims) - set(engines))
    evidence: dict[tuple[str, str], list[Evidence]] = {}
    for run in runs:  # a sweep's headline point only: one cell per engine x precision
        for cell in run.headline_cells():
            for feature in features_tested(cell):
                evidence.setdefault((cell.engine, feature), []).append(Evidence(run, cell))
    cells = {}
    for engine in engines:
        for f in claims.features:
            claim = claims.claims.get(engine, {}).get(f.id)
            now, old = current(evidence.get((engine, f.id), []))
            cells[(engine, f.id)] = MatrixCell(_verdict(f.id, now, claim), claim, now, old)
    return Matrix(claims.features, engines, cells)
