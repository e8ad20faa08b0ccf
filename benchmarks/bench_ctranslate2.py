"""asv: CTranslate2 cells, per model preset and precision."""

from ._cells import EngineCells, params_for, run_cells


class CTranslate2(EngineCells):
    params = params_for("ctranslate2")

    def setup_cache(self) -> dict:
        return run_cells("ctranslate2")
