"""Python reference implementations (numpy/scipy) of every warehouse metric (DESIGN §6, §10).

Used by: tests/warehouse (each dbt mart must equal these within 1e-9); never by the build.
Written for clarity, one item or one group at a time, so that it can be checked by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

BOOTSTRAP_SEED = 20260226
BOOTSTRAP_RESAMPLES = 1000
NORMALIZATIONS = ("none", "per_token", "per_char", "per_byte", "pmi")
FISHER_Z_975 = float(stats.norm.ppf(0.975))
ZERO_SPREAD = 1e-12
RANK_DECIMALS = 12


@dataclass(frozen=True)
class ItemScore:
    """One item under one length normalization."""

    predicted_index: int
    n_tied_at_max: int
    confidence: float
    prob_gold: float
    margin: float | None
    entropy_nats: float
    brier: float
    nll: float


def normalized_scores(
    norm: str, logprob, n_tokens, n_chars, n_bytes, logprob_uncond=None
) -> np.ndarray | None:
    """Per-choice scores of one item; None for pmi when a choice lacks logprob_uncond."""
    logprob = np.asarray(logprob, dtype=np.float64)
    if norm == "none":
        return logprob
    if norm == "pmi":
        if logprob_uncond is None or any(v is None for v in logprob_uncond):
            return None
        return logprob - np.asarray(logprob_uncond, dtype=np.float64)
    lengths = {"per_token": n_tokens, "per_char": n_chars, "per_byte": n_bytes}[norm]
    return logprob / np.asarray(lengths, dtype=np.float64)


def item_score(scores: np.ndarray, gold_index: int) -> ItemScore:
    """Softmax over the choices (scipy, log-sum-exp), argmax with ties to the lowest index."""
    probs = special.softmax(scores)
    top = scores.max()
    predicted = int(np.flatnonzero(scores == top)[0])
    others = np.delete(probs, gold_index)
    log_probs = scores - special.logsumexp(scores)
    return ItemScore(
        predicted_index=predicted,
        n_tied_at_max=int((scores == top).sum()),
        confidence=float(probs.max()),
        prob_gold=float(probs[gold_index]),
        margin=float(probs[gold_index] - others.max()) if len(others) else None,
        entropy_nats=float(-(probs * log_probs).sum()),
        brier=float(((probs - (np.arange(len(scores)) == gold_index)) ** 2).sum()),
        nll=float(-log_probs[gold_index]),
    )


def ece_equal_width(confidence, correct, n_bins: int = 15) -> float:
    """ECE over equal-width bins, bin = min(floor(confidence * n_bins), n_bins - 1)."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    bins = np.minimum(np.floor(confidence * n_bins), n_bins - 1).astype(int)
    return _ece(bins, confidence, correct)


def equal_mass_bins(confidence, item_ids, n_bins: int = 10) -> np.ndarray:
    """0-based bin of each item: SQL ntile(n_bins) ordered by (confidence, item_id)."""
    n = len(confidence)
    order = sorted(range(n), key=lambda i: (confidence[i], item_ids[i]))
    base, extra = divmod(n, n_bins)
    sizes = [base + (1 if b < extra else 0) for b in range(n_bins)]
    labels = np.repeat(np.arange(n_bins), sizes)
    bins = np.empty(n, dtype=int)
    bins[order] = labels
    return bins


def ece_equal_mass(confidence, correct, item_ids, n_bins: int = 10) -> float:
    """ECE over equal-mass bins (ntile)."""
    confidence = np.asarray(confidence, dtype=np.float64)
    bins = equal_mass_bins(list(confidence), list(item_ids), n_bins)
    return _ece(bins, confidence, np.asarray(correct, dtype=np.float64))


def _ece(bins: np.ndarray, confidence: np.ndarray, correct: np.ndarray) -> float:
    total = 0.0
    for b in np.unique(bins):
        mask = bins == b
        total += mask.sum() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total / len(confidence))


def auroc(confidence, correct) -> float | None:
    """Mann-Whitney AUROC from tie-averaged ranks; None if one class is empty."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    n_pos, n_neg = int(correct.sum()), int((~correct).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = stats.rankdata(confidence)
    return float((ranks[correct].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def bootstrap_plan(n: int, seed: int = BOOTSTRAP_SEED, resamples: int = BOOTSTRAP_RESAMPLES):
    """The shared resample plan: item positions (items sorted by item_id) of each resample."""
    return np.random.default_rng([seed, n]).integers(0, n, size=(resamples, n))


def bootstrap_ci(values, seed: int = BOOTSTRAP_SEED, resamples: int = BOOTSTRAP_RESAMPLES):
    """95% percentile CI (numpy 'linear') of the mean of `values` (sorted by item_id)."""
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        return None, None
    means = values[bootstrap_plan(len(values), seed, resamples)].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return float(low), float(high)


def _has_spread(values: np.ndarray) -> bool:
    return bool(values.std() > ZERO_SPREAD * max(1.0, abs(values.mean())))


def correlation(x, y, method: str = "pearson") -> dict:
    """n, r, p_value, ci_low, ci_high with the DESIGN §10 degenerate rules (NULL as None)."""
    pairs = [(a, b) for a, b in zip(x, y, strict=True) if a is not None and b is not None]
    pairs = [(a, b) for a, b in pairs if not (math.isnan(a) or math.isnan(b))]
    n = len(pairs)
    out = {"n": n, "r": None, "p_value": None, "ci_low": None, "ci_high": None}
    xs = np.array([a for a, _ in pairs], dtype=np.float64)
    ys = np.array([b for _, b in pairs], dtype=np.float64)
    if n < 3 or not _has_spread(xs) or not _has_spread(ys):
        return out
    if method == "pearson":
        result = stats.pearsonr(xs, ys)
    else:  # float noise of a mean must tie, not order (the SQL rounds the same way)
        result = stats.spearmanr(np.round(xs, RANK_DECIMALS), np.round(ys, RANK_DECIMALS))
    r = float(np.clip(result.statistic, -1.0, 1.0))
    out.update(r=r, p_value=float(result.pvalue))
    if n >= 4 and abs(r) < 1:
        half = FISHER_Z_975 / math.sqrt(n - 3)
        out.update(ci_low=math.tanh(math.atanh(r) - half), ci_high=math.tanh(math.atanh(r) + half))
    return out


def bh_q_values(p_values) -> list[float | None]:
    """Benjamini-Hochberg q of each p (None stays None), via scipy."""
    present = [i for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    if present:
        adjusted = stats.false_discovery_control([p_values[i] for i in present], method="bh")
        for i, q in zip(present, adjusted, strict=True):
            out[i] = float(q)
    return out


def ranking_agreement(a, b) -> dict:
    """Pairwise agreement and Kendall tau-b of two rankings of the same units."""
    a = np.round(np.asarray(a, dtype=np.float64), RANK_DECIMALS)
    b = np.round(np.asarray(b, dtype=np.float64), RANK_DECIMALS)
    concordant = discordant = tied_a = tied_b = n_pairs = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            n_pairs += 1
            sa, sb = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
            concordant += int(sa * sb > 0)
            discordant += int(sa * sb < 0)
            tied_a += int(sa == 0)
            tied_b += int(sb == 0)
    agreement = concordant / (concordant + discordant) if concordant + discordant else None
    tau = None
    if n_pairs > tied_a and n_pairs > tied_b:
        tau = float(stats.kendalltau(a, b).statistic)
    return {
        "n_pairs": n_pairs,
        "n_concordant": concordant,
        "n_discordant": discordant,
        "pairwise_agreement": agreement,
        "kendall_tau": tau,
    }
