import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from runner.cli import app

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ["validate", "ls"]:
        assert command in result.output


def test_validate_passes_on_the_shipped_configs():
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert "configs valid" in result.output


def test_ls_rejects_unknown_kind():
    result = runner.invoke(app, ["ls", "nonsense"])
    assert result.exit_code == 2


def test_help_does_not_import_heavy_stacks():
    code = (
        "import sys; from runner.cli import app; "
        "heavy = [m for m in ('torch', 'vllm', 'dbt', 'transformers') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_help_to_a_pipe_keeps_each_option_on_one_line():
    from runner.run_cli import JOBS_HELP

    xstage = str(Path(sys.executable).with_name("xstage"))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TERMINAL_WIDTH")}
    done = subprocess.run([xstage, "run", "--help"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    jobs = [line for line in done.stdout.splitlines() if line.lstrip().startswith("--jobs")]
    assert len(jobs) == 1
    assert JOBS_HELP in jobs[0]
    assert len(jobs[0]) > 80
