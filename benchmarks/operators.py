"""asv: single operators at a model preset's shapes, per engine, case and precision
(`enginebench ops`; ENGINEBENCH_ASV_OPS_MODEL picks the preset, `small` by default)."""

from typing import ClassVar

from enginebench.measure import asv


class Operators:
    params = asv.ops_params()
    param_names: ClassVar[list[str]] = ["engine", "case", "precision"]
    timeout = 3600  # every engine's ops, run once

    def setup_cache(self) -> dict:
        return asv.run_ops_results()

    setup = asv.check
    track_time_us = asv.track("track_time_us", "time_us", "us")
    track_gflops = asv.track("track_gflops", "gflops", "GFLOP/s")
    track_roofline_pct = asv.track("track_roofline_pct", "roofline_pct", "%")
