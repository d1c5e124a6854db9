"""The benchmark_items, documents and chat_examples writers hold their table's lock (issue 14).

A second writer (here: the real CLI in a subprocess while this process holds the lock) waits
$XSTAGE_LOCK_TIMEOUT seconds, then stops with one line; a killed corpus ingest's staging folder
is swept by the next writer.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from xstage import lake, lake_writes

CLI = [sys.executable, "-c", "from runner.cli import app; app()"]


@pytest.mark.parametrize(
    ("table", "command"),
    [
        ("benchmark_items", ["ingest", "benchmarks", "-b", "piqa", "--max-rows", "5"]),
        ("documents", ["ingest", "corpus", "demo_web_edu"]),
        ("chat_examples", ["ingest", "chat", "lima"]),
    ],
)
def test_a_second_writer_is_refused_with_one_line(data_dir, table, command):
    env = {**os.environ, lake_writes.LOCK_TIMEOUT_ENV: "0.3"}
    with lake_writes.writer_lock([table], "test"):
        done = subprocess.run([*CLI, *command], capture_output=True, text=True, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert f"lake table '{table}' is being written by `xstage test` (pid {os.getpid()})" in output
    assert "Traceback" not in output
    assert not lake.table_dir(table).exists() or not any(lake.table_dir(table).iterdir())


def test_a_dead_corpus_ingest_staging_folder_is_swept(data_dir):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    pid = int(dead.stdout)
    documents = lake.table_dir("documents")
    stale = documents / f".web.{pid}.x1y2.tmp"
    (stale / "part-00000.parquet").parent.mkdir(parents=True)
    (stale / "part-00000.parquet").write_bytes(b"half a corpus")
    mine = documents / f".web.{os.getpid()}.a1b2.tmp"
    mine.mkdir()
    with lake_writes.writer_lock(["documents"], "test"):
        pass
    assert not stale.exists()
    assert mine.exists()  # a live writer's staging folder stays
