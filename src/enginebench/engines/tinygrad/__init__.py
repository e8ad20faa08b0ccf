"""tinygrad: model.py and llama.py (the Llama written in tinygrad), ops.py the single ops."""
