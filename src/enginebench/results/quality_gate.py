"""The quality gate: whether a cell's speed is that of a usable model at its precision.
A cell passes where its logits stay close to the fp32 reference's over the quality tokens
(KL mean at most KL_MEAN_MAX, top-1 agreement at least TOP1_MIN_PCT). Tables crown speed
(bold) only among cells that pass, and the fp32 reference itself is `reference`, never the
best of a quality column."""

from typing import Literal

from enginebench.results.schema import Cell

KL_MEAN_MAX = 0.1  # nats per position
TOP1_MIN_PCT = 85.0
GATE_TEXT = (f"KL mean at most {KL_MEAN_MAX:g} nats and top-1 agreement at least "
             f"{TOP1_MIN_PCT:g}% against the fp32 reference")

Gate = Literal["reference", "pass", "fail", "unmeasured"]


def is_reference(cell: Cell) -> bool:
    """The cell is the fp32 reference its quality was measured against."""
    q = cell.quality
    return q is not None and q.reference == f"{cell.engine} {cell.precision} " \
        f"{cell.engine_version}"


def gate(cell: Cell) -> Gate:
    if is_reference(cell):
        return "reference"
    q = cell.quality
    if q is None:
        return "unmeasured"
    return "pass" if q.kl_mean <= KL_MEAN_MAX and q.top1_agree_pct >= TOP1_MIN_PCT \
        else "fail"


def gate_failure(cell: Cell) -> str | None:
    """Why the cell fails the gate, with its figures; None when it does not fail."""
    q = cell.quality
    if gate(cell) != "fail" or q is None:
        return None
    parts = ([f"KL mean {q.kl_mean:.3g} > {KL_MEAN_MAX:g}"] if q.kl_mean > KL_MEAN_MAX
             else []) + ([f"top-1 {q.top1_agree_pct:.1f}% < {TOP1_MIN_PCT:g}%"]
                         if q.top1_agree_pct < TOP1_MIN_PCT else [])
    return "below the quality gate (" + ", ".join(parts) + "): its speed is not crowned"


def may_be_best(cell: Cell) -> bool:
    """A cell whose speed may be marked best: it passes the gate or is the reference, or is
    an fp32 cell without quality measured (its greedy ids are checked against the reference
    all the same); a quantized cell whose quality is unknown is not crowned."""
    g = gate(cell)
    return g in ("pass", "reference") or (g == "unmeasured" and cell.precision_class == "fp32")
