"""enginebench: compare ML inference engines on the same model, workload and machine."""

__version__ = "0.1.0"
