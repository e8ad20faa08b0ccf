"""One ops adapter per engine (registry in enginebench.ops.registry)."""
