"""Quality of a cell against the fp32 reference: teacher-forced next-token logits compared
position by position (KL divergence, top-1 agreement, largest logit error), the first
generated token that differs from the reference's greedy output, and perplexity."""

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


# rows compared at a time, so the float64 work arrays stay small beside a large vocabulary
BLOCK_ROWS = 64


def compare_logits(reference: np.ndarray, logits: np.ndarray) -> dict:
    """KL(reference || cell) per position (mean and p99), top-1 agreement %, max |error|."""
    if reference.shape != logits.shape:
        raise ValueError(f"logits of shape {logits.shape}, the reference's is "
                         f"{reference.shape}")
    if not np.isfinite(logits).all():
        raise ValueError("the engine's logits contain NaN or infinity")
    kl = np.empty(reference.shape[0])
    err = 0.0
    for start in range(0, reference.shape[0], BLOCK_ROWS):
        ref, cell = reference[start:start + BLOCK_ROWS], logits[start:start + BLOCK_ROWS]
        ref_lp, lp = log_softmax(ref), log_softmax(cell)
        kl[start:start + len(ref)] = np.maximum((np.exp(ref_lp) * (ref_lp - lp)).sum(-1), 0.0)
        err = max(err, float(np.abs(ref.astype(np.float64) - cell).max()))
    return {
        "tokens": int(reference.shape[0]),
        "kl_mean": float(kl.mean()),
        "kl_p99": float(np.percentile(kl, 99)),
        "top1_agree_pct": float((reference.argmax(-1) == logits.argmax(-1)).mean() * 100),
        "max_abs_logit_err": err,
        "max_rel_logit_err": err / max(float(np.abs(reference).max()), 1e-30),
    }


def top1_margins(logits: np.ndarray) -> np.ndarray:
    """Per row: the top-1 logit's lead over the top-2, over the row's largest |logit|."""
    top2 = np.sort(logits.astype(np.float64), axis=-1)[:, -2:]
    scale = np.maximum(np.abs(logits).max(axis=-1), 1e-30)
    return (top2[:, 1] - top2[:, 0]) / scale


def perplexity(logits: np.ndarray, ids: list[int]) -> float:
    """exp of the mean negative log-likelihood of each next id under the logits."""
    nll = []
    for start in range(0, len(ids) - 1, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, len(ids) - 1)
        lp = log_softmax(logits[start:stop])
        nll.append(-lp[np.arange(stop - start), np.asarray(ids[start + 1:stop + 1])])
    return float(np.exp(np.concatenate(nll).mean()))


def first_difference(reference: list[int], ids: list[int]) -> int | None:
    """Index of the first generated token that differs from the reference; None if none."""
    for k, (a, b) in enumerate(zip(reference, ids, strict=False)):
        if a != b:
            return k
    return None if len(reference) == len(ids) else min(len(reference), len(ids))
