"""Every bad input of issue 14 through the real CLI in a subprocess: one clear message, no traceback.

Each case builds its input in a temp dir, runs `xstage ...` as a user would, and checks the exit
status, the message (naming the file, row or directory) and that nothing like a Python traceback
reached stderr or stdout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .conftest import lm_eval_line, toy_lines, write_samples

CLI = [sys.executable, "-c", "from runner.cli import app; app()"]
HEADER = "run_id,stage,unit,scale,benchmark,item_id,is_correct,seed\n"
MIRROR = Path(os.environ["XSTAGE_HF_MIRROR"])
TRACE_MARKS = ("Traceback", 'File "', "Error:\n", "MarkupError")


def table(tmp: Path, rows: list[str]) -> list[str]:
    path = tmp / "t.csv"
    path.write_text(HEADER + "".join(rows))
    return ["import", "table", str(path)]


def lm_eval(tmp: Path, lines: list, *options: str, task: str = "toy_task") -> list[str]:
    path = write_samples(tmp / "logs", task, lines)
    task_map = Path(__file__).with_name("toy_task_map.yaml")
    run = ["--run-id", "m", "--stage", "pretrain", "--scale", "1B", "--task-map", str(task_map)]
    return ["import", "lm-eval", str(path), *run, *options]


def bad_names(tmp: Path) -> list[str]:
    return table(tmp, [f"Llama 3,pretrain,u,1B,piqa,q{i},true,0\n" for i in range(1000)])


def markup_in_data(tmp: Path) -> list[str]:
    return table(tmp, ["a[/]b[bold],pretrain,u,1B,piqa,q0,true,0\n"])


def positive_logprob(tmp: Path) -> list[str]:
    lines = toy_lines()
    lines[1] = lm_eval_line(1, "q", ["a", "b"], 0, [5.0, -1.0])
    return lm_eval(tmp, lines)


def string_boolean(tmp: Path) -> list[str]:
    line = toy_lines(1)[0]
    line["filtered_resps"] = [[ll, "yes"] for ll, _ in line["filtered_resps"]]
    return lm_eval(tmp, [line])


def trailing_newline_run_id(tmp: Path) -> list[str]:
    args = lm_eval(tmp, toy_lines())
    args[args.index("m")] = "m\n"
    return args


def huge_seed_in_a_table(tmp: Path) -> list[str]:
    return table(tmp, ["m,pretrain,m,1B,piqa,q0,true,99999999999\n"])


def ingest_with_mirror(tmp: Path, piqa: bytes | pa.Table) -> list[str]:
    """A mirror whose PIQA file is `piqa` (bytes: corrupt) and whose ARC-Easy file is real."""
    mirror = tmp / "mirror"
    arc = mirror / "allenai__ai2_arc" / "ARC-Easy"
    arc.mkdir(parents=True)
    shutil.copy(MIRROR / "allenai__ai2_arc" / "ARC-Easy" / "test.parquet", arc / "test.parquet")
    target = mirror / "ybisk__piqa" / "default" / "validation.parquet"
    target.parent.mkdir(parents=True)
    if isinstance(piqa, bytes):
        target.write_bytes(piqa)
    else:
        pq.write_table(piqa, target)
    os.environ["XSTAGE_HF_MIRROR"] = str(mirror)  # restored by the test (monkeypatch)
    return ["ingest", "benchmarks", "-b", "piqa", "-b", "arc_easy"]


def corrupt_mirror_file(tmp: Path) -> list[str]:
    return ingest_with_mirror(tmp, b"PAR1 this is not parquet")


def empty_mirror_file(tmp: Path) -> list[str]:
    names = ["goal", "sol1", "sol2"]
    schema = pa.schema([*[(n, pa.string()) for n in names], ("label", pa.int64())])
    return ingest_with_mirror(tmp, schema.empty_table())


def model_dir_with_corrupt_weights(tmp: Path) -> Path:
    """config.json and a tokenizer of a real tiny Llama; model.safetensors cut to 100 bytes."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    model_dir = tmp / "model"
    words = {"<unk>": 0, "Question:": 1, "Answer:": 2}
    backend = Tokenizer(models.WordLevel(words, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>").save_pretrained(model_dir)
    config = LlamaConfig(
        vocab_size=8, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2,
    )  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(model_dir)
    weights = model_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    return model_dir


def unloadable_weights(tmp: Path) -> list[str]:
    return ["score", "--model", str(model_dir_with_corrupt_weights(tmp)), "--run-id", "Tiny-1"]


def unloadable_weights_with_a_scale(tmp: Path) -> list[str]:
    model_dir = model_dir_with_corrupt_weights(tmp)
    ingest = subprocess.run([*CLI, "ingest", "benchmarks", "-b", "piqa", "--max-rows", "3"])
    assert ingest.returncode == 0
    return ["score", "--model", str(model_dir), "--run-id", "Tiny-1", "--scale", "1M"]


def warehouse(tmp: Path) -> Path:
    path = Path(os.environ["XSTAGE_DATA_DIR"]) / "warehouse.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema marts")
        connection.execute("create table marts.t as select 1 as x")
    return path


def query_out_onto_the_warehouse(tmp: Path) -> list[str]:
    path = warehouse(tmp)
    return ["query", "select * from marts.t", "--format", "parquet", "--out", str(path)]


def nested_columns_as_csv(tmp: Path) -> list[str]:
    warehouse(tmp)
    return ["query", "select [1, 2] as xs, {'a': 1} as s", "--format", "csv"]


CASES: dict[str, tuple[Callable[[Path], list[str]], int, str]] = {
    "real names, 1000 bad rows": (bad_names, 1, "1000 rows: run_id=... is not a name"),
    "console markup in data": (markup_in_data, 1, "run_id='a[/]b[bold]' is not a name"),
    "log-prob > 0": (positive_logprob, 1, "log-prob=5.0 is not a finite number <= 0"),
    "string boolean": (string_boolean, 1, "is_greedy 'yes' is not a boolean"),
    "empty harness file": (lambda tmp: lm_eval(tmp, []), 1, "no rows to import"),
    "header-only table": (lambda tmp: table(tmp, []), 1, "t.csv: no rows to import"),
    "trailing newline in an id": (trailing_newline_run_id, 1, "--run-id='m\\n' is not a name"),
    "unknown task": (
        lambda tmp: lm_eval(tmp, toy_lines(), task="piqa_mirror"),
        1,
        "tasks: {'piqa_mirror': {benchmark: <id>, category: <id>, split: <split>}}",
    ),
    "integer out of range (table)": (huge_seed_in_a_table, 1, "is outside 0..2147483647"),
    "integer out of range (option)": (
        lambda tmp: lm_eval(tmp, toy_lines(), "--checkpoint-step", str(2**70)),
        2,
        "Invalid value for '--checkpoint-step'",
    ),
    "corrupt mirror file": (corrupt_mirror_file, 1, "not a readable Parquet file"),
    "zero-row mirror file": (empty_mirror_file, 1, "the mirror file has 0 rows"),
    "unloadable weights": (unloadable_weights, 1, "unloadable weights"),
    "unloadable weights (--scale)": (
        unloadable_weights_with_a_scale,
        1,
        "cannot load the model (unloadable weights or config",
    ),
    "query --out onto the warehouse": (
        query_out_onto_the_warehouse,
        1,
        "is inside the data dir",
    ),
    "nested columns as CSV": (nested_columns_as_csv, 1, "are nested (list/struct)"),
}


# the score cases start torch and transformers in a fresh process (~4-15 s each)
SLOW_CASES = {"unloadable weights", "unloadable weights (--scale)"}


@pytest.mark.parametrize(
    "case", [pytest.param(c, marks=[pytest.mark.slow] if c in SLOW_CASES else []) for c in CASES]
)
def test_bad_input_is_one_clear_message_without_a_traceback(case, tmp_path, monkeypatch):
    monkeypatch.setenv("XSTAGE_HF_MIRROR", os.environ["XSTAGE_HF_MIRROR"])
    monkeypatch.setenv("COLUMNS", "200")  # no line wrapping inside the expected message
    build, code, expected = CASES[case]
    args = build(tmp_path)
    done = subprocess.run([*CLI, *args], capture_output=True, text=True)
    output = done.stdout + done.stderr
    assert done.returncode == code, output
    assert expected in done.stderr, output  # errors go to stderr, not into piped results
    for mark in TRACE_MARKS:
        assert mark not in output, output


def test_a_corrupt_benchmark_file_does_not_stop_the_others(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("XSTAGE_HF_MIRROR", os.environ["XSTAGE_HF_MIRROR"])
    args = corrupt_mirror_file(tmp_path)
    done = subprocess.run([*CLI, *args], capture_output=True, text=True)
    assert done.returncode == 1
    arc = data_dir / "lake" / "benchmark_items" / "benchmark=arc_easy" / "part-0.parquet"
    assert pq.read_metadata(arc).num_rows == 2376
    assert not (data_dir / "lake" / "benchmark_items" / "benchmark=piqa").exists()
    assert "piqa" in done.stdout + done.stderr
    assert "written" in done.stdout
