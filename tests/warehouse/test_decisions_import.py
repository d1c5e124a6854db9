"""Decision statistics on real per-item data imported with `xstage import table` (a hand count).

4 model families (units) x 2 stages x 2 checkpoints x 4 items of one benchmark, through the real
CLI: `xstage import table`, then `xstage build --var last_checkpoints=2`.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from runner.cli import app
from xstage import lake

pytestmark = [pytest.mark.dbt]

# correct items out of 4, per (unit, stage, checkpoint_step)
CORRECT = {
    ("m1", "pretrain", 200): 1, ("m2", "pretrain", 200): 2,
    ("m3", "pretrain", 200): 3, ("m4", "pretrain", 200): 2,
    ("m1", "sft", 200): 2, ("m2", "sft", 200): 3, ("m3", "sft", 200): 2, ("m4", "sft", 200): 4,
    # the earlier checkpoint: every unit in the same order at both stages (m4 best)
    ("m1", "pretrain", 100): 1, ("m2", "pretrain", 100): 2,
    ("m3", "pretrain", 100): 3, ("m4", "pretrain", 100): 4,
    ("m1", "sft", 100): 1, ("m2", "sft", 100): 2, ("m3", "sft", 100): 3, ("m4", "sft", 100): 4,
}  # fmt: skip


def _table(path: Path) -> None:
    lines = ["run_id,stage,unit,scale,benchmark,category,checkpoint_step,item_id,is_correct"]
    for (unit, stage, step), n_correct in CORRECT.items():
        for item in range(4):
            correct = "true" if item < n_correct else "false"
            lines.append(f"{unit}_7b,{stage},{unit},7B,toy_qa,science,{step},q{item},{correct}")
    path.write_text("\n".join(lines) + "\n")


def _xstage(data_dir: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def imported(tmp_path: Path, data_dir: Path) -> Path:
    _table(tmp_path / "results.csv")
    assert "item_results 64, runs 16 rows" in _xstage(
        data_dir, "import", "table", str(tmp_path / "results.csv")
    )
    _xstage(data_dir, "build", "--var", "last_checkpoints=2")
    return lake.warehouse_path(data_dir)


def test_decision_accuracy_of_an_imported_two_checkpoint_study_is_the_hand_count(
    imported: Path,
) -> None:
    # latest checkpoint (200), accuracy PT (m1..m4) .25 .50 .75 .50, SFT .50 .75 .50 1.0:
    # m1-m2 agree, m1-m3 tied (SFT .50 = .50), m1-m4 agree, m2-m3 disagree, m2-m4 tied (PT),
    # m3-m4 disagree -> 2 agree, 2 disagree, 2 tied -> decision accuracy 2 / 4 = 0.5
    with duckdb.connect(str(imported), read_only=True) as con:
        rows = con.execute(
            "select level, n_agree, n_disagree, n_tied, decision_accuracy"
            " from marts.fct_decision_accuracy where comparison = 'pretrain_vs_sft'"
            " and metric = 'accuracy' and length_normalization = 'none' order by level"
        ).fetchall()
        noise = con.execute(
            "select signal, noise, snr, n_checkpoints from marts.fct_checkpoint_noise"
            " where stage = 'pretrain' and metric = 'accuracy' and length_normalization = 'none'"
        ).fetchall()
    assert rows == [("benchmark", 2, 2, 2, 0.5), ("category", 2, 2, 2, 0.5)]
    # PT signal: (.75 - .25) / mean(.25, .5, .75, .5) = 1; noise: only m4 moves (1.0 -> .5):
    # std(ddof 1) = sqrt(.125), over its mean .75, averaged over 4 units; SNR = 6 sqrt(2)
    ((signal, noise_value, snr, n_checkpoints),) = noise
    assert n_checkpoints == 2
    assert signal == pytest.approx(1.0, abs=1e-12)
    assert noise_value == pytest.approx(math.sqrt(0.125) / 0.75 / 4, abs=1e-12)
    assert snr == pytest.approx(6 * math.sqrt(2), abs=1e-9)
