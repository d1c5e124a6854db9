from __future__ import annotations

import math

import pytest

from training.schedule import lr_at, warmup_steps


def test_warmup_is_linear_then_cosine_reaches_the_floor() -> None:
    peak, total, warmup = 1.0, 110, 10
    assert lr_at(1, total, peak, warmup, 0.1) == pytest.approx(0.1)
    assert lr_at(10, total, peak, warmup, 0.1) == pytest.approx(1.0)
    # Half-way through the decay the cosine term is 0.5: 0.1 + 0.9 * 0.5.
    assert lr_at(60, total, peak, warmup, 0.1) == pytest.approx(0.55)
    assert lr_at(110, total, peak, warmup, 0.1) == pytest.approx(0.1)
    expected = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 25 / 100))
    assert lr_at(35, total, peak, warmup, 0.1) == pytest.approx(expected)


def test_warmup_steps_rounds_and_keeps_at_least_one() -> None:
    assert warmup_steps(100, 0.05) == 5
    assert warmup_steps(10, 0.01) == 1
    assert warmup_steps(10, 0.0) == 0
    assert lr_at(1, 10, 2.0, 0, 0.0) == pytest.approx(1 + math.cos(math.pi / 10))
