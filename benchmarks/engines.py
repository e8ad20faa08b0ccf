"""asv: every registered engine's model cells ("engine precision"), per model preset and
workload (`enginebench run`; ENGINEBENCH_ASV_MODELS picks the presets, `tiny` by default)."""

from typing import ClassVar

from enginebench.measure import asv


class Engines:
    params = asv.model_params()
    param_names: ClassVar[list[str]] = ["cell", "model", "workload"]
    timeout = 7200  # every engine's cells, run once, interleaved

    def setup_cache(self) -> dict:
        return asv.run_model_cells()

    setup = asv.check
    track_decode_tps = asv.track("track_decode_tps", "decode_tps", "tokens/s")
    track_prefill_tps = asv.track("track_prefill_tps", "prefill_tps", "tokens/s")
    track_ttft_ms = asv.track("track_ttft_ms", "ttft_ms", "ms")
    track_peak_rss_mb = asv.track("track_peak_rss_mb", "peak_rss_mb", "MB")
