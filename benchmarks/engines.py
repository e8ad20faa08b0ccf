"""asv: every registered engine's model cells, per model preset, precision and workload
(`enginebench run`; ENGINEBENCH_ASV_MODELS picks the presets, `tiny` by default)."""

from typing import ClassVar

from enginebench.measure import asv


class Engines:
    params = asv.model_params()
    param_names: ClassVar[list[str]] = ["engine", "model", "precision", "workload"]
    timeout = 7200  # every engine's cells, run once, interleaved

    def setup_cache(self) -> dict:
        return asv.run_model_cells()

    def setup(self, cells: dict, engine: str, model: str, precision: str, _: str) -> None:
        asv.figures(cells, (engine, model, precision))

    def track_decode_tps(self, cells: dict, engine: str, model: str, precision: str, _: str
                         ) -> float:
        return asv.figures(cells, (engine, model, precision))["decode_tps"]

    def track_prefill_tps(self, cells: dict, engine: str, model: str, precision: str, _: str
                          ) -> float:
        return asv.figures(cells, (engine, model, precision))["prefill_tps"]

    def track_ttft_ms(self, cells: dict, engine: str, model: str, precision: str, _: str
                      ) -> float:
        return asv.figures(cells, (engine, model, precision))["ttft_ms"]

    def track_peak_rss_mb(self, cells: dict, engine: str, model: str, precision: str, _: str
                          ) -> float:
        return asv.figures(cells, (engine, model, precision))["peak_rss_mb"]

    track_decode_tps.unit = track_prefill_tps.unit = "tokens/s"  # type: ignore[attr-defined]
    track_ttft_ms.unit = "ms"  # type: ignore[attr-defined]
    track_peak_rss_mb.unit = "MB"  # type: ignore[attr-defined]
