"""What each column of the site's tables means, in one sentence: shown as the header's
tooltip on every page, and listed on the methodology page."""

from enginebench.report.peak_rss import PEAK_RSS_DEFINITION
from enginebench.results.quality_gate import GATE_TEXT

# header text (or the start of it) -> its definition
GLOSSARY: dict[str, str] = {
    "decode tok/s": "tg, text generation: tokens generated per second after the first, "
                    "greedy, EOS ignored; the median of every sample (± their standard "
                    "deviation)",
    "per-seq decode tok/s": "decode tok/s of one sequence of a batch: the batch's decode "
                            "tok/s divided by the batch size",
    "prefill tok/s": "pp, prompt processing: prompt tokens read per second before the "
                     "first token is generated",
    "TTFT ms": "time to first token: the prompt's prefill and the first generated token, "
               "in milliseconds",
    "peak RSS MB": PEAK_RSS_DEFINITION,
    "KL mean": "mean KL divergence (nats) of each next-token distribution from PyTorch "
               "fp32's on the same prompts; 0 for fp32 itself, lower is closer",
    "top-1 %": "share of positions where the engine's most likely next token is fp32's",
    "1st diff": "the first generated token at which greedy output differs from fp32's "
                "(min and median over the divergence prompts); 'none' when it never does",
    "perplexity": "perplexity of the engine on the quality prompts (trained weights only "
                  "mean anything here)",
    "roofline %": "decode tok/s as a share of the most the measured memory bandwidth "
                  "allows when every weight is read once per token",
    "roof %": "attained GFLOP/s as a share of min(peak, intensity x bandwidth) for the op",
    "verdict": "clear: the fastest past the quality gate is ahead by more than the "
               "bootstrap interval and the noise floor; tie: within them",
    "quality gate": f"a cell may be called best only when {GATE_TEXT}",
    "precision": "the engine's own name for the weights' format; its class (fp32, 16-bit, "
                 "int8, int4) is what cells are compared within",
    "ratio": "B / A of the medians, with the 95% bootstrap interval",
}


def tip(header: str) -> str:
    """The definition of a column whose header is or starts with a glossary term; empty
    when there is none."""
    for term, text in GLOSSARY.items():
        if header == term or header.startswith(term + " ") or header.startswith(term + "("):
            return text
    return ""
