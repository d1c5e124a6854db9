from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.mixture import CorpusTokens, MixtureSampler, tokenize_corpus
from training.tokenizer import load_tokenizer, tokenizer_hash
from xstage import lake


def _corpus(name: str, n_docs: int, doc_len: int, first_id: int) -> CorpusTokens:
    ids = np.arange(first_id, first_id + n_docs * doc_len, dtype=np.int64) % 60_000
    return CorpusTokens(name, ids, np.arange(0, n_docs * doc_len + 1, doc_len))


CORPORA = [
    _corpus("web", 50, 37, 0),
    _corpus("code", 7, 91, 10_000),
    _corpus("cur", 20, 13, 20_000),
]


@pytest.mark.parametrize("weights", [(0.65, 0.25, 0.10), (0.45, 0.35, 0.20), (0.25, 0.45, 0.30)])
def test_sampler_hits_token_weights_within_one_percent(weights: tuple) -> None:
    sampler = MixtureSampler(CORPORA, list(weights), seq_len=64, seed=0)
    for _ in range(25):  # a run of 25 steps x 8 sequences
        sampler.next_batch(8)
    drawn = sampler.tokens_per_corpus()
    total = sum(drawn.values())
    assert total == 25 * 8 * 64
    for corpus, weight in zip(CORPORA, weights, strict=True):
        assert abs(drawn[corpus.corpus] / total - weight) < 0.01
    assert sampler.epochs_seen()["code"] > 1  # the small corpus repeats, reshuffled


def test_each_sequence_comes_from_its_corpus_in_seeded_order() -> None:
    first = MixtureSampler(CORPORA, [0.5, 0.3, 0.2], seq_len=64, seed=1)
    again = MixtureSampler(CORPORA, [0.5, 0.3, 0.2], seq_len=64, seed=1)
    other = MixtureSampler(CORPORA, [0.5, 0.3, 0.2], seq_len=64, seed=2)
    a, b, c = first.next_batch(16), again.next_batch(16), other.next_batch(16)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    index, sequence = MixtureSampler(CORPORA, [0.5, 0.3, 0.2], 64, 1).next_sequence()
    assert index == 0
    assert sequence.max() < 10_000


def test_state_dict_continues_with_the_next_sequence() -> None:
    reference = MixtureSampler(CORPORA, [0.4, 0.4, 0.2], seq_len=48, seed=3)
    reference.next_batch(30)
    expected = reference.next_batch(10)
    resumed = MixtureSampler(CORPORA, [0.4, 0.4, 0.2], seq_len=48, seed=3)
    resumed.next_batch(30)
    state = resumed.state_dict()
    fresh = MixtureSampler(CORPORA, [0.4, 0.4, 0.2], seq_len=48, seed=3)
    fresh.load_state_dict(state)
    assert np.array_equal(fresh.next_batch(10), expected)


def _concatenated_stream(corpus: CorpusTokens, seed: int, index: int, epoch: int) -> np.ndarray:
    """The reference: an epoch's whole stream, documents concatenated in the seeded order."""
    order = np.random.default_rng([seed, index, epoch]).permutation(corpus.n_docs)
    return np.concatenate([corpus.ids[corpus.doc_starts[d] : corpus.doc_starts[d + 1]]
                           for d in order])  # fmt: skip


def test_sequences_equal_cuts_of_the_concatenated_epoch_streams() -> None:
    rng = np.random.default_rng(7)
    lengths = rng.integers(1, 120, size=40)  # ragged documents, some longer than a sequence
    starts = np.concatenate([[0], np.cumsum(lengths)])
    corpus = CorpusTokens("ragged", rng.integers(0, 60_000, size=starts[-1]), starts)
    sampler = MixtureSampler([corpus], [1.0], seq_len=100, seed=5)
    got = np.concatenate([sampler.next_sequence()[1] for _ in range(150)])  # ~5.5 epochs
    streams, epoch = [], 0
    while sum(len(s) for s in streams) < len(got):
        streams.append(_concatenated_stream(corpus, 5, 0, epoch))
        epoch += 1
    assert np.array_equal(got, np.concatenate(streams)[: len(got)])
    assert sampler.epochs_seen()["ragged"] > 5


def test_tokenized_corpus_ends_documents_with_eos_and_is_cached(small_tokenizer: Path) -> None:
    from training.lake_data import read_documents

    tokenizer = load_tokenizer(small_tokenizer)
    digest = tokenizer_hash(tokenizer)
    tokens = tokenize_corpus("demo_code", tokenizer, digest)
    assert tokens.n_docs == 164
    assert isinstance(tokens.ids, np.memmap)  # read from the cache, not held in memory
    ends = tokens.ids[tokens.doc_starts[1:] - 1]
    assert set(ends.tolist()) == {tokenizer.eos_token_id}
    texts = read_documents("demo_code")
    for doc in (0, 17, 163):  # a document's ids are its text's tokens, then EOS
        expected = tokenizer(texts[doc], add_special_tokens=False)["input_ids"]
        ids = tokens.ids[tokens.doc_starts[doc] : tokens.doc_starts[doc + 1]]
        assert ids.tolist() == [*expected, tokenizer.eos_token_id]
    cache = lake.token_cache_path(digest[:16], "demo_code")
    assert sorted(p.name for p in cache.iterdir()) == ["doc_starts.npy", "ids.bin", "meta.json"]
    before = (cache / "ids.bin").stat().st_mtime_ns
    again = tokenize_corpus("demo_code", tokenizer, digest)
    assert np.array_equal(again.ids, tokens.ids)
    assert (cache / "ids.bin").stat().st_mtime_ns == before
    leftovers = [p.name for p in cache.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == [".demo_code.lock"]  # no temp or stale dirs


def _tokenize_in_child(args: tuple) -> tuple[int, int]:
    tokenizer_dir, corpus = args
    tokenizer = load_tokenizer(tokenizer_dir)
    tokens = tokenize_corpus(corpus, tokenizer, tokenizer_hash(tokenizer))
    return len(tokens.ids), int(tokens.ids[-1])


def test_processes_tokenizing_at_once_share_one_cache(small_tokenizer: Path) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("fork")) as pool:
        results = list(pool.map(_tokenize_in_child, [(small_tokenizer, "demo_code")] * 3))
    assert len(set(results)) == 1  # every process reads the same complete cache
    tokenizer = load_tokenizer(small_tokenizer)
    cache = lake.token_cache_path(tokenizer_hash(tokenizer)[:16], "demo_code")
    assert sorted(p.name for p in cache.iterdir()) == ["doc_starts.npy", "ids.bin", "meta.json"]
