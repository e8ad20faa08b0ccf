"""asv: burn (the Rust runner) cells, per model preset and precision."""

from ._cells import EngineCells, params_for, run_cells


class Burn(EngineCells):
    params = params_for("burn")

    def setup_cache(self) -> dict:
        return run_cells("burn")
