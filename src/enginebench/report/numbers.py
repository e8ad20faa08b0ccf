"""How every table (terminal, markdown, CSV and the site) writes a figure: one formatter."""


def number(x: float | None, digits: int = 1) -> str:
    """`x` with thousands separators and `digits` decimals; empty for no value."""
    return "" if x is None else f"{x:,.{digits}f}"
