"""Shared-context packing, truncation, batches and the block mask, checked by hand."""

from __future__ import annotations

import pytest
import torch

from scoring.batching import (
    EncodedChoice,
    pack_item,
    pack_items,
    plan_batches,
    truncate_choice,
)
from scoring.forward import CUDA_ATTENTION, attention_backends, block_mask, collate


def test_pack_item_lays_out_the_shared_prefix_once():
    choices = [EncodedChoice((1, 2, 3), (4, 5)), EncodedChoice((1, 2, 3), (6,))]
    row = pack_item(choices)
    # inputs: (1,2,3,4) and (1,2,3): prefix (1,2,3), then choice 0's suffix (4,); choice 1 has none
    assert row.tokens == (1, 2, 3, 4)
    assert row.positions == (0, 1, 2, 3)
    assert row.segments == (0, 0, 0, 1)
    assert row.predict_at == (2, 3, 2)
    assert row.targets == (4, 5, 6)
    assert row.n_targets == (2, 1)


def test_suffixes_restart_positions_after_the_prefix():
    choices = [EncodedChoice((9, 8), (7, 6, 5)), EncodedChoice((9, 8), (4, 3))]
    row = pack_item(choices)
    assert row.tokens == (9, 8, 7, 6, 4)
    assert row.positions == (0, 1, 2, 3, 2)
    assert row.segments == (0, 0, 1, 1, 2)
    assert row.predict_at == (1, 2, 3, 1, 4)
    assert row.targets == (7, 6, 5, 4, 3)


def test_partial_scoring_items_share_the_common_part_of_their_contexts():
    choices = [EncodedChoice((1, 2, 10), (5, 6)), EncodedChoice((1, 2, 11), (5, 6))]
    row = pack_item(choices)
    assert row.tokens == (1, 2, 10, 5, 11, 5)
    assert row.positions == (0, 1, 2, 3, 2, 3)
    assert row.predict_at == (2, 3, 4, 5)


def test_per_choice_layout_gives_one_row_per_choice():
    items = [[EncodedChoice((1,), (2,)), EncodedChoice((1,), (3, 4))], [EncodedChoice((5,), (6,))]]
    rows = pack_items(items, shared_context=False)
    assert [row.tokens for row in rows] == [(1,), (1, 3), (5,)]


def test_truncation_keeps_the_last_max_length_plus_one_tokens():
    choice = truncate_choice([1, 2, 3, 4, 5], [6, 7], max_length=4)
    assert choice.context + choice.continuation == (3, 4, 5, 6, 7)
    assert len(choice.inputs) == 4
    with pytest.raises(ValueError, match="exceeds max_length"):
        truncate_choice([1], [2, 3, 4], max_length=2)


def rows_of_length(*lengths):
    return pack_items([[EncodedChoice((1,) * n, (2,))] for n in lengths], shared_context=True)


def test_batches_are_longest_first_and_short_rows_share_a_line():
    rows = rows_of_length(3, 9, 5, 5, 2)  # row lengths equal the context lengths
    # line length 9 (the longest row); 5+3 and 5+2 fill two more lines of the same batch
    assert plan_batches(rows, batch_tokens=27) == [[[1], [2, 0], [3, 4]]]


def test_batches_respect_the_token_budget():
    rows = rows_of_length(3, 9, 5, 5, 2)
    # 2 lines of 9 fit in 18; the next batch's lines are 5 long and 3 + 2 share one
    assert plan_batches(rows, batch_tokens=18) == [[[1], [2]], [[3], [0, 4]]]
    assert plan_batches(rows, batch_tokens=10) == [[[1]], [[2], [3]], [[0], [4]]]
    # a budget below one row still gives every batch one line
    assert plan_batches(rows, batch_tokens=1) == [[[1]], [[2]], [[3]], [[0]], [[4]]]


def test_block_mask_is_causal_within_a_segment_and_blind_across_segments_and_items():
    items = torch.tensor([[0, 0, 0, 0, 0, 1, 1, -1]])
    segments = torch.tensor([[0, 0, 1, 1, 2, 0, 1, -1]])
    mask = block_mask(items, segments)[0, 0].int().tolist()
    assert mask == [
        [1, 0, 0, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0, 0, 0],
        [1, 1, 1, 1, 0, 0, 0, 0],
        [1, 1, 0, 0, 1, 0, 0, 0],
        [0, 0, 0, 0, 0, 1, 0, 0],
        [0, 0, 0, 0, 0, 1, 1, 0],
        [0, 0, 0, 0, 0, 0, 0, 1],
    ]


def test_collate_lays_rows_end_to_end_pads_lines_and_flattens_predictions():
    a = pack_item([EncodedChoice((1, 2, 3), (4, 5)), EncodedChoice((1, 2, 3), (6,))])
    b = pack_item([EncodedChoice((7,), (8,))])
    c = pack_item([EncodedChoice((9, 10), (11,))])
    batch = collate([[a, b], [c]], pad_id=0, device="cpu")
    assert batch.tokens.tolist() == [[1, 2, 3, 4, 7], [9, 10, 0, 0, 0]]
    assert batch.positions.tolist() == [[0, 1, 2, 3, 0], [0, 1, 0, 0, 0]]
    # a: choice 1 reads 3 and 4 (row positions 2, 3), choice 2 reads 3; b at 4; c at 5 + 1
    assert batch.predict_at.tolist() == [2, 3, 2, 4, 6]
    assert batch.targets.tolist() == [4, 5, 6, 8, 11]
    mask = batch.mask[:, 0].int().tolist()
    assert mask[0][4] == [0, 0, 0, 0, 1]  # b sees only itself, not a
    assert mask[0][3] == [1, 1, 1, 1, 0]
    assert mask[1][1] == [1, 1, 0, 0, 0]
    assert mask[1][4] == [0, 0, 1, 1, 1]  # padding sees earlier padding only


def _sdpa_flags() -> dict[str, bool]:
    cuda = torch.backends.cuda
    return {
        "cudnn": cuda.cudnn_sdp_enabled(),
        "flash": cuda.flash_sdp_enabled(),
        "efficient": cuda.mem_efficient_sdp_enabled(),
        "math": cuda.math_sdp_enabled(),
    }


def test_cuda_attention_is_held_to_the_efficient_kernel_and_math_and_cpu_is_left_alone():
    before = _sdpa_flags()
    assert CUDA_ATTENTION == ("EFFICIENT_ATTENTION", "MATH")
    with attention_backends(torch.device("cuda")):  # sets torch's global flags; no GPU needed
        assert _sdpa_flags() == {"cudnn": False, "flash": False, "efficient": True, "math": True}
    assert _sdpa_flags() == before
    with attention_backends(torch.device("cuda"), None), attention_backends(torch.device("cpu")):
        assert _sdpa_flags() == before
