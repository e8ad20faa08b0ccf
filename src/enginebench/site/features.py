"""The feature matrix: each engine x feature cell is verified by a run, or claimed in
data/features.yaml with its source, or shown unsupported, failed or contradicted."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, HttpUrl

from enginebench.errors import UserError
from enginebench.results.schema import Cell, Run
from enginebench.yamlfile import load_yaml

Verdict = Literal["verified", "claimed", "unsupported", "failed", "contradicted", "unknown"]

# Evidence a cell gives, as data: a precision class or a device proves a feature.
PRECISION_FEATURES = {"fp16": "fp16", "bf16": "fp16", "int8": "int8", "int4": "int4"}
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


@dataclass
class MatrixCell:
    verdict: Verdict
    claim: Claim | None = None
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def shown(self) -> Evidence | None:
        """The evidence the page links: the latest working run, else the latest failure."""
        good = [e for e in self.evidence if e.ok]
        pool = good or self.evidence
        return max(pool, key=lambda e: e.run.created_at) if pool else None


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


def _verdict(feature: str, evidence: list[Evidence], claim: Claim | None) -> Verdict:
    says_yes = claim is not None and claim.claim != "unsupported"
    if any(e.ok for e in evidence):
        return "contradicted" if claim is not None and not says_yes else "verified"
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
            for feature in features_of(cell):
                evidence.setdefault((cell.engine, feature), []).append(Evidence(run, cell))
    cells = {}
    for engine in engines:
        for f in claims.features:
            claim = claims.claims.get(engine, {}).get(f.id)
            ev = evidence.get((engine, f.id), [])
            cells[(engine, f.id)] = MatrixCell(_verdict(f.id, ev, claim), claim, ev)
    return Matrix(claims.features, engines, cells)
