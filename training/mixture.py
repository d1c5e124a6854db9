"""Token-weighted, deterministic mixture sampling and sequence packing (DESIGN §7).

Used by: xstage train. Each corpus is tokenized once per tokenizer (cached under
<data>/cache/tokens/), its documents joined with end-of-sequence tokens into a stream whose
document order is a seeded permutation, new each epoch. Every packed sequence comes from one
corpus, chosen by smooth weighted round-robin, so after n sequences each corpus's share of
tokens is within 1/n of its weight: the weights are hit in tokens, deterministically per seed.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from training.lake_data import documents_fingerprint, read_documents
from xstage import lake

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CorpusTokens:
    """A tokenized corpus: flat ids (each document followed by EOS) and document offsets."""

    corpus: str
    ids: np.ndarray
    doc_starts: np.ndarray

    @property
    def n_docs(self) -> int:
        return len(self.doc_starts) - 1


def tokenize_corpus(corpus: str, tokenizer, tokenizer_digest: str) -> CorpusTokens:
    """Tokens of a lake corpus, from the cache when the documents and tokenizer are unchanged."""
    path = lake.token_cache_path(tokenizer_digest[:16], corpus)
    fingerprint = documents_fingerprint(corpus)
    if path.is_file():
        with np.load(path) as cached:
            if str(cached["fingerprint"]) == fingerprint:
                return CorpusTokens(corpus, cached["ids"], cached["doc_starts"])
    texts = read_documents(corpus)
    encodings = tokenizer.backend_tokenizer.encode_batch(texts, add_special_tokens=False)
    eos = tokenizer.eos_token_id
    lengths = np.array([len(encoding.ids) + 1 for encoding in encodings], dtype=np.int64)
    dtype = np.uint16 if len(tokenizer) <= np.iinfo(np.uint16).max else np.uint32
    ids = np.fromiter(
        (token for encoding in encodings for token in (*encoding.ids, eos)),
        dtype=dtype,
        count=int(lengths.sum()),
    )
    doc_starts = np.concatenate([[0], np.cumsum(lengths)])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, ids=ids, doc_starts=doc_starts, fingerprint=np.array(fingerprint))
    os.replace(tmp, path)
    log.info("tokenized %s: %d documents, %d tokens", corpus, len(texts), len(ids))
    return CorpusTokens(corpus, ids, doc_starts)


class MixtureSampler:
    """Packs fixed-length sequences from several corpora in proportion to their token weights.

    The sampler is a pure function of (seed, weights, corpora, number of sequences drawn), and
    its state is a small dict, so a resumed run continues with exactly the next sequence.
    """

    def __init__(
        self, corpora: list[CorpusTokens], weights: list[float], seq_len: int, seed: int
    ) -> None:
        assert corpora, "a mixture needs at least one corpus"
        assert len(corpora) == len(weights), "one weight per corpus"
        assert abs(sum(weights) - 1) < 1e-6, f"weights sum to {sum(weights)}"
        self.corpora, self.weights = corpora, np.asarray(weights, dtype=np.float64)
        self.seq_len, self.seed = seq_len, seed
        n = len(corpora)
        self.credit = np.zeros(n)
        self.cursor = [0] * n
        self.epoch = [0] * n
        self.n_sequences = [0] * n
        self._streams: dict[int, tuple[int, np.ndarray]] = {}

    def _stream(self, index: int) -> np.ndarray:
        """The current epoch's token stream of corpus `index` (documents in seeded order)."""
        epoch = self.epoch[index]
        cached = self._streams.get(index)
        if cached is None or cached[0] != epoch:
            corpus = self.corpora[index]
            rng = np.random.default_rng([self.seed, index, epoch])
            order = rng.permutation(corpus.n_docs)
            starts, ends = corpus.doc_starts[order], corpus.doc_starts[order + 1]
            stream = np.concatenate([corpus.ids[s:e] for s, e in zip(starts, ends, strict=True)])
            self._streams[index] = (epoch, stream)
        return self._streams[index][1]

    def _take(self, index: int) -> np.ndarray:
        pieces, needed = [], self.seq_len
        while needed:
            stream = self._stream(index)
            piece = stream[self.cursor[index] : self.cursor[index] + needed]
            pieces.append(piece)
            needed -= len(piece)
            self.cursor[index] += len(piece)
            if self.cursor[index] == len(stream):
                self.cursor[index], self.epoch[index] = 0, self.epoch[index] + 1
        return np.concatenate(pieces).astype(np.int64)

    def next_sequence(self) -> tuple[int, np.ndarray]:
        """(corpus index, seq_len token ids) of the next packed sequence."""
        self.credit += self.weights
        index = int(np.argmax(self.credit))  # ties go to the first corpus
        self.credit[index] -= 1.0
        self.n_sequences[index] += 1
        return index, self._take(index)

    def next_batch(self, n: int) -> np.ndarray:
        """`n` packed sequences as an (n, seq_len) int64 array."""
        return np.stack([self.next_sequence()[1] for _ in range(n)])

    def tokens_per_corpus(self) -> dict[str, int]:
        """Tokens drawn so far from each corpus."""
        return {
            c.corpus: k * self.seq_len for c, k in zip(self.corpora, self.n_sequences, strict=True)
        }

    def epochs_seen(self) -> dict[str, float]:
        """How many times each corpus has been read (above 1: it repeats)."""
        return {
            corpus.corpus: self.epoch[i] + self.cursor[i] / max(len(corpus.ids), 1)
            for i, corpus in enumerate(self.corpora)
        }

    def state_dict(self) -> dict:
        """Everything needed to continue with the next sequence."""
        return {
            "credit": self.credit.tolist(),
            "cursor": list(self.cursor),
            "epoch": list(self.epoch),
            "n_sequences": list(self.n_sequences),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from a `state_dict()`."""
        self.credit = np.asarray(state["credit"], dtype=np.float64)
        self.cursor, self.epoch = list(state["cursor"]), list(state["epoch"])
        self.n_sequences = list(state["n_sequences"])
        self._streams.clear()
