"""The asv suite: one module per engine, each a class of cells parameterized by model
preset and precision, measured by the same isolated suite as `enginebench run`."""
