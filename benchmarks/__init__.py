"""The asv suite, read from the engine registry (no file per engine): engines.py holds every
engine's model cells (engine x model x precision x workload), operators.py every op face's
single ops (engine x case x precision class), measured by the same isolated runs as
`enginebench run` and `enginebench ops` (enginebench.measure.asv)."""
