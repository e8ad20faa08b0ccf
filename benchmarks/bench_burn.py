"""asv: burn (the Rust runner) cells, per model preset and precision."""

from enginebench import asv_cells


class Burn(asv_cells.EngineCells):
    params = asv_cells.params_for("burn")

    def setup_cache(self) -> dict:
        return asv_cells.run_cells("burn")
