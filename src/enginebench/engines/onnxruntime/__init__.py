"""ONNX Runtime: model.py runs the exported graph, ops.py one-op graphs, export.py
builds the ONNX model (the GenAI model builder) and quantizes it."""
