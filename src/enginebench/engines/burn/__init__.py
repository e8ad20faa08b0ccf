"""burn, through its compiled runner (runners/rust/burn): model.py, ops.py."""
