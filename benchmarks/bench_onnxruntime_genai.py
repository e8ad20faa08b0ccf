"""asv: ONNX Runtime GenAI cells, per model preset and precision."""

from ._cells import EngineCells, params_for, run_cells


class OnnxRuntimeGenAI(EngineCells):
    params = params_for("onnxruntime-genai")

    def setup_cache(self) -> dict:
        return run_cells("onnxruntime-genai")
