"""llama.cpp (llama-cpp-python): model.py runs GGUF models, ops.py calls ggml's ops
through the libraries the wheel installs, gguf.py converts and quantizes checkpoints to GGUF."""
