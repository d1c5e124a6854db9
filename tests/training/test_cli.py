from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from runner.cli import app

runner = CliRunner()


def test_tokenizer_train_command_trains_on_the_given_corpora(
    demo_lake: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tok"
    args = [
        "tokenizer",
        "train",
        "--corpus",
        "demo_code",
        "--corpus",
        "demo_curated",
        "--vocab-size",
        "400",
        "--out",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "demo_code, demo_curated" in result.output
    assert (out / "tokenizer.json").is_file()
    assert runner.invoke(app, ["tokenizer", "train", "--vocab-size", "400"]).exit_code == 2


def test_train_dry_run_prints_the_plan_and_writes_nothing(data_dir: Path) -> None:
    result = runner.invoke(
        app, ["train", "--scale", "240M", "--mixture", "refinedweb_65_25_10", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "11,444 steps" in result.output  # 12B tokens // (256 x 4096)
    assert "241,054,464 parameters" in result.output
    assert "H200-hours" in result.output
    assert not data_dir.exists()


def test_bad_set_and_missing_data_exit_1_with_the_reason(data_dir: Path) -> None:
    result = runner.invoke(
        app, ["train", "--scale", "tiny", "--mixture", "demo_edu_45_35_20", "--set", "train.x=1"]
    )
    assert result.exit_code == 1
    assert "train.x" in result.output
    result = runner.invoke(app, ["sft", "--run", "tiny__demo_edu_45_35_20__seed0"])
    assert result.exit_code == 1
    assert "xstage train" in result.output
