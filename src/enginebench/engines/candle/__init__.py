"""candle, through its compiled runner (runners/rust/candle): model.py, ops.py."""
