"""Token-weighted, deterministic mixture sampling and sequence packing (DESIGN §7).

Used by: xstage train. Each corpus is tokenized once per tokenizer (cached under
<data>/cache/tokens/), its documents joined with end-of-sequence tokens into a stream whose
document order is a seeded permutation, new each epoch. Every packed sequence comes from one
corpus, chosen by smooth weighted round-robin, so after n sequences each corpus's share of
tokens is within 1/n of its weight: the weights are hit in tokens, deterministically per seed.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.lake_data import documents_fingerprint, iter_document_batches
from xstage import lake

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CorpusTokens:
    """A tokenized corpus: flat ids (each document followed by EOS) and document offsets.

    From the cache, `ids` is a read-only memory map: a 12B-token corpus is not loaded whole.
    """

    corpus: str
    ids: np.ndarray
    doc_starts: np.ndarray

    @property
    def n_docs(self) -> int:
        return len(self.doc_starts) - 1


def _cached_tokens(directory: Path, corpus: str, fingerprint: str) -> CorpusTokens | None:
    """The cache's tokens when they were made from these documents (else None)."""
    try:
        meta = json.loads((directory / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("fingerprint") != fingerprint:
        return None
    shape = (int(meta["n_tokens"]),)
    ids = np.memmap(directory / "ids.bin", dtype=meta["dtype"], mode="r", shape=shape)
    return CorpusTokens(corpus, ids, np.load(directory / "doc_starts.npy"))


def tokenize_corpus(corpus: str, tokenizer, tokenizer_digest: str) -> CorpusTokens:
    """Tokens of a lake corpus, from the cache when the documents and tokenizer are unchanged.

    Documents stream through the tokenizer a batch at a time and their ids are appended to
    `ids.bin` in a temp dir that is renamed into place, so memory holds one batch, not the
    corpus, and a killed run leaves no partial cache.
    """
    directory = lake.token_cache_path(tokenizer_digest[:16], corpus)
    fingerprint = documents_fingerprint(corpus)
    cached = _cached_tokens(directory, corpus, fingerprint)
    if cached is not None:
        return cached
    directory.parent.mkdir(parents=True, exist_ok=True)
    # DDP ranks all get here on a first run: one tokenizes, the others wait and read its cache
    with (directory.parent / f".{corpus}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cached = _cached_tokens(directory, corpus, fingerprint)
        if cached is None:
            _write_token_cache(corpus, tokenizer, directory, fingerprint)
            cached = _cached_tokens(directory, corpus, fingerprint)
    assert cached is not None, f"{directory}: the cache just written does not read back"
    return cached


def _write_token_cache(corpus: str, tokenizer, directory: Path, fingerprint: str) -> None:
    """Tokenize `corpus` into a temp dir beside `directory`, then rename it into place."""
    eos = tokenizer.eos_token_id
    dtype = np.uint16 if len(tokenizer) <= np.iinfo(np.uint16).max else np.uint32
    tmp = Path(tempfile.mkdtemp(prefix=f".{corpus}.", dir=directory.parent))
    try:
        lengths = []
        with (tmp / "ids.bin").open("wb") as out:
            for texts in iter_document_batches(corpus):
                encodings = tokenizer.backend_tokenizer.encode_batch(
                    texts, add_special_tokens=False
                )
                docs = [np.asarray([*encoding.ids, eos], dtype=dtype) for encoding in encodings]
                np.concatenate(docs).tofile(out)  # one write per batch, not per document
                lengths.extend(len(doc) for doc in docs)
        doc_starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        np.save(tmp / "doc_starts.npy", doc_starts)
        meta = {"dtype": np.dtype(dtype).name, "n_tokens": int(doc_starts[-1])}
        meta |= {"n_docs": len(lengths), "fingerprint": fingerprint}
        (tmp / "meta.json").write_text(json.dumps(meta))
        _replace_dir(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("tokenized %s: %d documents, %d tokens", corpus, len(lengths), doc_starts[-1])


def _replace_dir(new: Path, target: Path) -> None:
    """Move `new` to `target`, replacing an older `target` (renames; the old one is deleted)."""
    if target.exists():
        stale = target.with_name(f".{target.name}.stale.{os.getpid()}")
        os.replace(target, stale)
        shutil.rmtree(stale, ignore_errors=True)
    os.replace(new, target)


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
        self._layouts: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}

    def _layout(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(document order, stream offset where each ordered document ends) of corpus `index`.

        The epoch's stream is the corpus's documents in a seeded order, new each epoch. It is
        never materialized: sequences are cut from the (memory-mapped) ids document by document.
        """
        epoch = self.epoch[index]
        cached = self._layouts.get(index)
        if cached is None or cached[0] != epoch:
            corpus = self.corpora[index]
            rng = np.random.default_rng([self.seed, index, epoch])
            order = rng.permutation(corpus.n_docs)
            ends = np.cumsum(np.diff(corpus.doc_starts)[order])
            self._layouts[index] = (epoch, order, ends)
        return self._layouts[index][1], self._layouts[index][2]

    def _take(self, index: int) -> np.ndarray:
        corpus, pieces, needed = self.corpora[index], [], self.seq_len
        while needed:
            order, ends = self._layout(index)
            cursor = self.cursor[index]
            k = int(np.searchsorted(ends, cursor, side="right"))  # the document holding cursor
            doc_end = int(ends[k])
            start = int(corpus.doc_starts[order[k] + 1]) - (doc_end - cursor)
            n = min(needed, doc_end - cursor)
            pieces.append(corpus.ids[start : start + n])
            needed -= n
            self.cursor[index] += n
            if self.cursor[index] == int(ends[-1]):
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
        self._layouts.clear()
