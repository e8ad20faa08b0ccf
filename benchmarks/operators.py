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

    def setup(self, results: dict, engine: str, case: str, precision: str) -> None:
        asv.figures(results, (engine, case, precision))

    def track_time_us(self, results: dict, engine: str, case: str, precision: str) -> float:
        return asv.figures(results, (engine, case, precision))["time_us"]

    def track_gflops(self, results: dict, engine: str, case: str, precision: str) -> float:
        return asv.figures(results, (engine, case, precision))["gflops"]

    def track_roofline_pct(self, results: dict, engine: str, case: str, precision: str
                           ) -> float:
        return asv.figures(results, (engine, case, precision))["roofline_pct"]

    track_time_us.unit = "us"  # type: ignore[attr-defined]
    track_gflops.unit = "GFLOP/s"  # type: ignore[attr-defined]
    track_roofline_pct.unit = "%"  # type: ignore[attr-defined]
