"""Three demo web filters over one crawl, each a small stand-in for a paper web source.

Used by: xstage ingest corpus demo_web_minimal | demo_web_edu | demo_web_quality (through
ingest.corpora.TRANSFORMS). Each filter takes a document's text and returns it unchanged or
None (dropped); each has a `*_score` function so tests and reports can see why.

- minimal_filter ~ RefinedWeb: document-level Gopher/RefinedWeb heuristics only (length, word
  shape, symbols, bullets, repetition, stop words). Meant to drop junk, keep most of the crawl.
- edu_filter ~ FineWeb-Edu: an additive 0-5 "educational value" score (FineWeb-Edu's annotation
  prompt is additive over 5 criteria; here lexical proxies stand in for the LLM/classifier);
  keeps score >= 3, as FineWeb-Edu keeps classifier score >= 3.
- quality_filter ~ DCLM-Baseline: a fixed linear "classifier" over text features in the spirit
  of DCLM's fastText model (trained on OpenHermes/ELI5 positives vs. random web negatives), so it
  rewards explanatory question/answer prose and penalises boilerplate and commerce; keeps
  documents (that pass the minimal heuristics, as DCLM's pipeline runs RefinedWeb's first) whose
  probability passes a fixed threshold (DCLM keeps its top ~10% by score).
"""

from __future__ import annotations

import math
import re

WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+")
SENTENCE_END = re.compile(r"[.!?]+[\"')\]]?(?:\s|$)")
STOP_WORDS = frozenset(["the", "be", "to", "of", "and", "that", "have", "with"])
BULLETS = ("•", "-", "*", "·", "‣", "●")
EDU_WORDS = frozenset(
    [
        "learn",
        "learning",
        "students",
        "student",
        "teach",
        "teacher",
        "teachers",
        "education",
        "educational",
        "school",
        "study",
        "studies",
        "research",
        "researchers",
        "science",
        "scientific",
        "scientists",
        "history",
        "historical",
        "theory",
        "process",
        "processes",
        "energy",
        "cells",
        "cell",
        "species",
        "university",
        "knowledge",
        "understand",
        "understanding",
        "explain",
        "explains",
        "explained",
        "example",
        "examples",
        "analysis",
        "evidence",
        "concept",
        "concepts",
        "method",
        "methods",
        "chapter",
        "lesson",
        "course",
        "experiment",
        "data",
        "system",
        "systems",
        "define",
        "defined",
        "definition",
    ]
)
EXPLAIN_CUES = (
    "because",
    "for example",
    "such as",
    "which means",
    "is defined as",
    "in order to",
    "therefore",
    "this means",
    "is called",
    "known as",
    "as a result",
)
COMMERCE_WORDS = frozenset(
    [
        "buy",
        "price",
        "prices",
        "sale",
        "shop",
        "shopping",
        "discount",
        "cheap",
        "deal",
        "deals",
        "shipping",
        "store",
        "offer",
        "offers",
        "coupon",
        "checkout",
        "cart",
        "booking",
        "subscribe",
        "click",
        "free",
        "customers",
        "customer",
        "rent",
        "bedroom",
    ]
)
QUESTION_WORDS = frozenset(["how", "why", "what", "when", "which", "who", "explain"])


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters with inner apostrophes/hyphens, or digit runs)."""
    return [word.lower() for word in WORD.findall(text)]


def minimal_reasons(text: str) -> list[str]:
    """Why minimal_filter would drop `text` (empty list: keep). Thresholds from Gopher/RefinedWeb."""
    tokens = text.split()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    reasons = []
    if not 50 <= len(tokens) <= 100_000:
        reasons.append(f"{len(tokens)} words outside 50..100000")
    if tokens:
        mean_len = sum(len(token) for token in tokens) / len(tokens)
        if not 3 <= mean_len <= 10:
            reasons.append(f"mean word length {mean_len:.1f} outside 3..10")
        symbols = text.count("#") + text.count("...") + text.count("…")
        if symbols / len(tokens) > 0.1:
            reasons.append("symbol-to-word ratio > 0.1")
        alpha = sum(any(char.isalpha() for char in token) for token in tokens)
        if alpha / len(tokens) < 0.8:
            reasons.append("< 80% of words contain a letter")
        if len(STOP_WORDS.intersection(words(text))) < 2:
            reasons.append("fewer than 2 English stop words")
    if lines:
        if sum(line.startswith(BULLETS) for line in lines) / len(lines) > 0.9:
            reasons.append("> 90% of lines are bullets")
        if sum(line.endswith(("...", "…")) for line in lines) / len(lines) > 0.3:
            reasons.append("> 30% of lines end with an ellipsis")
        if 1 - len(set(lines)) / len(lines) > 0.3:
            reasons.append("> 30% duplicate lines")
    return reasons


def minimal_filter(text: str) -> str | None:
    """RefinedWeb-like: keep unless a document-level heuristic fires."""
    return None if minimal_reasons(text) else text


def edu_score(text: str) -> int:
    """Additive 0-5 educational-value score (one point per criterion, FineWeb-Edu style).

    1. substantive: at least 150 words;
    2. topical: educational vocabulary >= 1.5% of words;
    3. explanatory: at least two explanation cues ("because", "for example", ...);
    4. not commercial: commerce vocabulary < 1% of words and no prices;
    5. coherent prose: mean sentence length 12-35 words.
    """
    tokens = words(text)
    if not tokens:
        return 0
    lowered = text.lower()
    n_sentences = max(1, len(SENTENCE_END.findall(text)))
    score = int(len(tokens) >= 150)
    score += int(sum(token in EDU_WORDS for token in tokens) / len(tokens) >= 0.015)
    score += int(sum(lowered.count(cue) for cue in EXPLAIN_CUES) >= 2)
    commerce = sum(token in COMMERCE_WORDS for token in tokens) / len(tokens)
    score += int(commerce < 0.01 and not re.search(r"[$£€]\s?\d", text))
    score += int(12 <= len(tokens) / n_sentences <= 35)
    return score


def edu_filter(text: str) -> str | None:
    """FineWeb-Edu-like: keep documents with edu_score >= 3."""
    return text if edu_score(text) >= 3 else None


# Weights of the linear quality model (log-odds per feature); fixed, so the filter is deterministic.
QUALITY_WEIGHTS = {
    "bias": -2.0,
    "question_words": 10.0,  # share of how/why/what/... words: Q&A and explanation (ELI5-like)
    "explain_cues": 0.35,  # count of explanation cues, capped at 8
    "terminal_lines": 1.5,  # share of lines that end like a sentence
    "type_token": 2.0,  # vocabulary diversity (boilerplate repeats itself)
    "commerce": -60.0,  # share of commerce words
    "digits": -8.0,  # share of digit tokens (listings, tables, dates)
    "first_person_promo": -12.0,  # share of 'we/our/us' (marketing voice)
}
QUALITY_THRESHOLD = 0.7


def quality_features(text: str) -> dict[str, float]:
    """The features of the linear quality model, each a share or a capped count."""
    tokens = words(text) or [""]
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [""]
    lowered = text.lower()
    n = len(tokens)
    return {
        "bias": 1.0,
        "question_words": sum(token in QUESTION_WORDS for token in tokens) / n,
        "explain_cues": min(8, sum(lowered.count(cue) for cue in EXPLAIN_CUES)),
        "terminal_lines": sum(line.endswith((".", "!", "?", '"')) for line in lines) / len(lines),
        "type_token": len(set(tokens[:500])) / min(n, 500),
        "commerce": sum(token in COMMERCE_WORDS for token in tokens) / n,
        "digits": sum(token.isdigit() for token in tokens) / n,
        "first_person_promo": sum(token in {"we", "our", "us"} for token in tokens) / n,
    }


def quality_score(text: str) -> float:
    """Probability-like score in (0, 1): the logistic of the weighted features."""
    features = quality_features(text)
    logit = sum(QUALITY_WEIGHTS[name] * value for name, value in features.items())
    return 1 / (1 + math.exp(-logit))


def quality_filter(text: str) -> str | None:
    """DCLM-like: minimal heuristics first (as DCLM-Baseline does), then quality_score >= 0.7."""
    if minimal_reasons(text):
        return None
    return text if quality_score(text) >= QUALITY_THRESHOLD else None
