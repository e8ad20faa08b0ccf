"""Operator benchmarks: single ops at a model's shapes, across engines, against a roofline."""
