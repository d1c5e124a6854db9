"""The console through real pipes: no wrapping, no markup in user data, plain progress lines."""

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.table import Table

from xstage.console import Console

REPO_ROOT = Path(__file__).resolve().parents[2]
SLUG_RULE = "expected ^[a-z][a-z0-9_]*$"


def _long_dir(tmp_path: Path) -> Path:
    """A path of ~300 characters: longer than any terminal width rich could guess."""
    return tmp_path / ("d" * 120) / ("e" * 120) / "configs"


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """Run with stdout and stderr on pipes, COLUMNS=80 as a narrow CI terminal would set."""
    environ = {**os.environ, "COLUMNS": "80", **env}
    return subprocess.run(args, capture_output=True, text=True, env=environ, cwd=REPO_ROOT)


def _xstage() -> str:
    return shutil.which("xstage", path=str(Path(sys.executable).parent)) or "xstage"


@pytest.fixture
def bad_config_dir(tmp_path: Path) -> Path:
    """A long configs dir with one good benchmark and one whose id holds markup-like text."""
    configs = _long_dir(tmp_path)
    (configs / "benchmarks").mkdir(parents=True)
    good = (REPO_ROOT / "configs" / "benchmarks" / "arc_easy.yaml").read_text()
    (configs / "benchmarks" / "arc_easy.yaml").write_text(good)
    bad = good.replace("id: arc_easy", 'id: "Bad[/]x[bold]"', 1)
    (configs / "benchmarks" / "bad.yaml").write_text(bad)
    return configs


def test_a_long_path_stays_on_one_line_in_a_pipe(bad_config_dir: Path):
    done = _run([_xstage(), "validate"], XSTAGE_CONFIG_DIR=str(bad_config_dir))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert f"1/2 configs valid under {bad_config_dir}" in lines
    assert len(lines) == 2, lines


def test_user_data_with_brackets_prints_literally(bad_config_dir: Path):
    done = _run([_xstage(), "validate"], XSTAGE_CONFIG_DIR=str(bad_config_dir))
    error = done.stdout.splitlines()[0]
    bad = bad_config_dir / "benchmarks" / "bad.yaml"
    assert error.startswith(f"invalid {bad}: field 'id': ")
    assert error.endswith(f"id='Bad[/]x[bold]' is not a slug ({SLUG_RULE})")
    assert "Traceback" not in done.stderr


def test_log_lines_in_a_pipe_are_whole_and_unpadded(tmp_path: Path):
    path = _long_dir(tmp_path) / "part-0.parquet"
    code = (
        "import logging, sys; from xstage.console import setup_logging; setup_logging(); "
        "logging.getLogger('t').info('wrote %s [/] [a-z0-9_]', sys.argv[1])"
    )
    done = _run([sys.executable, "-c", code, str(path)])
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.endswith(f" INFO wrote {path} [/] [a-z0-9_]")


PROGRESS = """
import sys
from xstage.console import progress, setup_logging
setup_logging(quiet=sys.argv[1] == "quiet")
with progress() as bar:
    task = bar.add_task("count [/]", total=3)
    for _ in range(3):
        bar.advance(task)
"""


def test_progress_in_a_pipe_prints_plain_lines():
    done = _run([sys.executable, "-c", PROGRESS, "info"])
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert [line.rsplit(" (", 1)[0] for line in lines] == ["count [/]: 0/3", "count [/]: 3/3"]
    assert all(line.endswith(" s)") for line in lines)


def test_progress_in_a_pipe_is_silent_when_quiet():
    done = _run([sys.executable, "-c", PROGRESS, "quiet"])
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_table_cells_and_errors_are_not_markup():
    out = io.StringIO()
    console = Console(file=out)
    table = Table("pattern")
    table.add_row("[a-z0-9_]")
    table.add_row("[/]")
    console.print(table)
    console.error("name [/] [red]x[/red]", label="invalid")
    text = out.getvalue()
    assert "[a-z0-9_]" in text
    assert "│ [/]       │" in text
    assert text.splitlines()[-1] == "invalid name [/] [red]x[/red]"
