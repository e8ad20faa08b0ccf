"""asv: llama.cpp through llama-cpp-python cells, per model preset and precision."""

from enginebench import asv_cells


class LlamaCpp(asv_cells.EngineCells):
    params = asv_cells.params_for("llamacpp")

    def setup_cache(self) -> dict:
        return asv_cells.run_cells("llamacpp")
