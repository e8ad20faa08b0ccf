"""asv: the model cells ("engine precision") x model x workload point that `enginebench run`
measures, once, in asv's `setup_cache`: a runner profile's grid and sweeps where
ENGINEBENCH_ASV_PROFILE names one (the nightly, scripts/asv_run.sh), else every engine on
the presets of ENGINEBENCH_ASV_MODELS (`tiny` by default); see enginebench.measure.asv."""

from typing import ClassVar

from enginebench.measure import asv


class Engines:
    params = asv.model_params()
    param_names: ClassVar[list[str]] = ["cell", "model", "workload"]
    # a whole profile, interleaved, run once; the nightly job's own limit (300 min) is the
    # one that stops a hang first
    timeout = 6 * 3600

    def setup_cache(self) -> dict:
        return asv.run_model_cells()

    setup = asv.check
    track_decode_tps = asv.track("track_decode_tps", "decode_tps", "tokens/s")
    track_prefill_tps = asv.track("track_prefill_tps", "prefill_tps", "tokens/s")
    track_ttft_ms = asv.track("track_ttft_ms", "ttft_ms", "ms")
    track_peak_rss_mb = asv.track("track_peak_rss_mb", "peak_rss_mb", "MB")
