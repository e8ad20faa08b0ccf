"""The compiled Rust runners' Python side: runner.py (the JSON-lines client and the model
face they share), ops.py (the op face they share). candle and burn name their binary."""
