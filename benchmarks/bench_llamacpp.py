"""asv: llama.cpp through llama-cpp-python cells, per model preset and precision."""

from ._cells import EngineCells, params_for, run_cells


class LlamaCpp(EngineCells):
    params = params_for("llamacpp")

    def setup_cache(self) -> dict:
        return run_cells("llamacpp")
