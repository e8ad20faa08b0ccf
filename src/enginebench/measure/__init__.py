"""The harness: workload, isolated cells, metrics and environment capture."""
