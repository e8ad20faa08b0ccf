"""asv: CTranslate2 cells, per model preset and precision."""

from enginebench import asv_cells


class CTranslate2(asv_cells.EngineCells):
    params = asv_cells.params_for("ctranslate2")

    def setup_cache(self) -> dict:
        return asv_cells.run_cells("ctranslate2")
