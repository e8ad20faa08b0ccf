"""ONNX Runtime GenAI: model.py runs its generation loop (no op face: a single op
is plain ONNX Runtime)."""
