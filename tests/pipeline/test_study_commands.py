import shlex

import pytest
import typer
from typer.testing import CliRunner

from runner.cli import app
from runner.steps import command_lines
from runner.study_config import load_study
from runner.study_plan import plan_study
from training.__main__ import app as training_app


def parse_only(line: str) -> None:
    """Parse a command line against the real CLI (options, types) without running it."""
    words = shlex.split(line)
    if words[0] == "torchrun":
        assert words[1].startswith("--nproc_per_node=")
        assert words[2:4] == ["-m", "training"]
        group, words = typer.main.get_command(training_app), words[4:]
    else:
        assert words[0] == "xstage"
        group, words = typer.main.get_command(app), words[1:]
    command = group
    while isinstance(command, typer.core.TyperGroup) or hasattr(command, "commands"):
        command, words = command.commands[words[0]], words[1:]
    command.make_context(command.name, list(words))


@pytest.mark.parametrize("study", ["demo", "paper"])
def test_every_step_command_parses_against_the_real_cli(study):
    config, path = load_study(study)
    lines = command_lines(plan_study(config, path).steps, nproc=4)
    commands = [line for line in lines if not line.startswith("#")]
    assert len(commands) == len(plan_study(config, path).steps)
    for line in commands:
        for command in line.split(" && "):
            parse_only(command)


def test_paper_commands_train_under_torchrun():
    config, path = load_study("paper")
    lines = command_lines(plan_study(config, path).steps, nproc=8)
    train = [line for line in lines if " -m training train " in line]
    sft = [line for line in lines if " -m training sft " in line]
    score = [line for line in lines if line.startswith("xstage score ")]
    assert len(train) == len(sft) == 18
    assert len(score) == 36
    assert all(line.startswith("torchrun --nproc_per_node=8 ") for line in train + sft)
    assert all("--backend vllm" in line and "--device cuda" in line for line in score)


def test_overrides_become_set_options(tmp_path):
    import yaml

    from xstage.config import config_dir

    data = yaml.safe_load((config_dir() / "studies" / "demo.yaml").read_text())
    data["id"] = "mini"
    data["recipes"]["tiny"]["pretrain_overrides"] = {"train_tokens": 4096}
    (tmp_path / "mini.yaml").write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(
        app, ["run", str(tmp_path / "mini.yaml"), "--dry-run", "--commands", "--nproc", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "--set train.train_tokens=4096" in result.output
    assert "torchrun --nproc_per_node=2 -m training train --scale tiny" in result.output
