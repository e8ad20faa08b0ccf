"""The verdict a reader comes for: in one run, per precision class, the fastest decode among
the cells that may be crowned (ok, plausible, past the quality gate), and whether its lead
over each other such cell is real or a tie, by the same statistics as `compare` (the
bootstrap interval of the ratio of medians and the machine's noise floor)."""

from dataclasses import dataclass, field

from enginebench.results.compare import DEFAULT_SEED, verdict
from enginebench.results.quality_gate import may_be_best
from enginebench.results.schema import PRECISION_CLASSES, Cell


@dataclass(frozen=True)
class Lead:
    """The fastest cell against one other: ratio of decode medians (fastest / other), its
    95% interval, and whether the lead is real (`clear`) or within the noise (`tie`)."""

    other: Cell
    ratio: float
    ci95: tuple[float, float] | None
    outcome: str  # "clear" or "tie"


@dataclass
class ClassVerdict:
    precision_class: str
    fastest: Cell
    leads: list[Lead] = field(default_factory=list)
    # faster cells that are not counted: below the quality gate, or quantized with quality
    # not measured
    uncrowned: list[Cell] = field(default_factory=list)

    @property
    def tied(self) -> list[Cell]:
        return [lead.other for lead in self.leads if lead.outcome == "tie"]


def _decode(c: Cell) -> list[float]:
    d = c.metrics.decode_tps
    if d is None:
        return []
    return list(d.samples) or [d.median]


def class_verdicts(cells: list[Cell], noise_pct: float) -> list[ClassVerdict]:
    """One verdict per precision class with a cell that may be crowned, in the classes'
    order. A lead is `clear` only when `compare` would call the fastest `faster` than the
    other (interval above 1 and the ratio past `noise_pct`); else it is a `tie`."""
    out = []
    for pclass in PRECISION_CLASSES:
        ran = [c for c in cells if c.precision_class == pclass and c.status == "ok"
               and not c.implausible and c.metrics.decode_tps is not None]
        eligible = sorted((c for c in ran if may_be_best(c)),
                          key=lambda c: -c.metrics.decode_tps.median)  # type: ignore[union-attr]
        if not eligible:
            continue
        top = eligible[0]
        top_rate = top.metrics.decode_tps.median  # type: ignore[union-attr]
        leads = []
        for other in eligible[1:]:
            ratio, ci, _, called = verdict(_decode(other), _decode(top), True, noise_pct,
                                           DEFAULT_SEED)
            leads.append(Lead(other, ratio, ci, "clear" if called == "faster" else "tie"))
        faster = [c for c in ran if not may_be_best(c)
                  and c.metrics.decode_tps.median > top_rate]  # type: ignore[union-attr]
        out.append(ClassVerdict(pclass, top, leads, faster))
    return out
