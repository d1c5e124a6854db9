"""score_run / score_model / `xstage score`: one leaf per benchmark, schema, resume, provenance."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from runner.cli import app
from scoring.external import scale_label, score_model
from scoring.score import resolve_checkpoint, score_run
from tests.checkpoints import write_meta
from xstage import lake
from xstage.schemas import PREDICTIONS, RUNS

RUN_ID = "tiny__demo_minimal_65_25_10__seed0"


@pytest.fixture
def trained_run(tiny_model_dir, data_dir):
    """A checkpoint laid out as training writes it: runs/<run_id>/pretrain/final + meta.json."""
    final = lake.run_stage_dir(RUN_ID, "pretrain") / "final"
    shutil.copytree(tiny_model_dir, final)
    write_meta(final, run_id=RUN_ID, checkpoint_step=120)
    return final


def leaf(benchmark, stage="pretrain", step=120):
    return lake.predictions_path("tiny", "demo_minimal_65_25_10", 0, stage, benchmark, step)


def test_score_run_writes_one_leaf_per_benchmark_with_the_lake_schema(trained_run, toy_lake):
    summary = score_run(RUN_ID, "pretrain", ["toy_rc", "toy_mc", "toy_partial", "toy_fewshot"])
    assert summary.n_written == 4
    for name in ("toy_rc", "toy_mc", "toy_partial", "toy_fewshot"):
        path = leaf(name)
        assert pq.read_schema(path).equals(PREDICTIONS)
        table = pq.read_table(path).to_pylist()
        items = toy_lake[name]
        assert len(table) == sum(len(item["choices"]) for item in items)
        gold = {(row["item_id"], row["gold_index"]) for row in items}
        assert {(row["item_id"], row["choice_index"]) for row in table if row["is_gold"]} == gold
        assert {row["checkpoint_step"] for row in table} == {120}
        assert {(row["backend"], row["dtype"]) for row in table} == {("hf", "float32")}
        assert all(row["logprob"] < 0 and row["n_tokens"] >= 1 for row in table)
    rc = {(r["item_id"], r["choice_index"]): r for r in pq.read_table(leaf("toy_rc")).to_pylist()}
    item = toy_lake["toy_rc"][0]
    answer = item["choices"][1]
    assert rc[(item["item_id"], 1)]["n_chars"] == len(answer)
    assert rc[(item["item_id"], 1)]["n_bytes"] == len(answer.encode())
    mc = pq.read_table(leaf("toy_mc")).to_pylist()
    assert {row["n_chars"] for row in mc} == {1}


def test_rerun_skips_existing_leaves_and_overwrite_rewrites_them(trained_run, toy_lake):
    score_run(RUN_ID, "pretrain", ["toy_rc"])
    before = leaf("toy_rc").stat().st_mtime_ns
    summary = score_run(RUN_ID, "pretrain", ["toy_rc"])
    assert [entry.status for entry in summary.leaves] == ["skipped"]
    assert leaf("toy_rc").stat().st_mtime_ns == before
    summary = score_run(RUN_ID, "pretrain", ["toy_rc"], overwrite=True)
    assert [entry.status for entry in summary.leaves] == ["written"]


def test_limit_scores_the_first_items_in_item_hash_order(trained_run, toy_lake):
    score_run(RUN_ID, "pretrain", ["toy_rc"], limit=3)
    scored = {row["item_id"] for row in pq.read_table(leaf("toy_rc")).to_pylist()}
    first = sorted(toy_lake["toy_rc"], key=lambda row: row["item_hash"])[:3]
    assert scored == {row["item_id"] for row in first}


def test_default_benchmarks_are_those_with_items(trained_run, toy_lake):
    lake.benchmark_items_path("toy_big").unlink()
    summary = score_run(RUN_ID, "pretrain", limit=2)
    assert sorted(entry.benchmark for entry in summary.leaves) == [
        "toy_fewshot",
        "toy_mc",
        "toy_partial",
        "toy_rc",
    ]


def test_missing_items_and_missing_checkpoint_are_clear_errors(trained_run, toy_lake):
    lake.benchmark_items_path("toy_rc").unlink()
    with pytest.raises(FileNotFoundError, match="xstage ingest benchmarks --benchmark toy_rc"):
        score_run(RUN_ID, "pretrain", ["toy_rc"])
    with pytest.raises(ValueError, match=r"meta\.json"):
        resolve_checkpoint(RUN_ID, "sft")


def test_score_model_files_an_outside_model_with_a_runs_row(tiny_model_dir, toy_lake):
    summary = score_model(
        tiny_model_dir, "toy_llama", scale="1M", unit="toy_family", benchmarks=["toy_rc"]
    )
    assert summary.n_written == 1
    path = lake.predictions_path("1M", "toy_family", 0, "pretrain", "toy_rc", 0)
    assert path.is_file()
    runs = pq.read_table(lake.runs_path("toy_llama", "pretrain"))
    assert runs.schema.equals(RUNS)
    row = runs.to_pylist()[0]
    assert (row["origin"], row["mixture"], row["scale"], row["n_params_nominal"]) == (
        "score",
        "toy_family",
        "1M",
        1_000_000,
    )
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert row["n_params"] == sum(parameter.numel() for parameter in model.parameters())
    assert len(row["checkpoint_sha256"]) == 64
    assert len(row["tokenizer_hash"]) == 64


def test_scale_label_comes_from_the_parameter_count():
    assert [scale_label(n) for n in (134_515_008, 1_150_000_000, 388_992, 3_150_000)] == [
        "135M",
        "1B",
        "389K",
        "3M",
    ]
    with pytest.raises(ValueError, match="pass --scale"):
        scale_label(None)


def test_pmi_adds_each_answers_logprob_after_bos_alone(trained_run, toy_lake):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    score_run(RUN_ID, "pretrain", ["toy_rc", "toy_mc", "toy_partial"], pmi=True)
    score_run(RUN_ID, "pretrain", ["toy_fewshot"])
    model = AutoModelForCausalLM.from_pretrained(trained_run, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(trained_run)

    def logprob_after_bos(answer: str) -> float:
        """Unbatched: sum of log P(answer token | BOS, earlier answer tokens)."""
        ids = [tokenizer.bos_token_id, *tokenizer(answer, add_special_tokens=False)["input_ids"]]
        with torch.inference_mode():
            logits = model(torch.tensor([ids])).logits[0, :-1].float()
        return float(torch.log_softmax(logits, -1)[torch.arange(len(ids) - 1), ids[1:]].sum())

    for name in ("toy_rc", "toy_mc"):
        items = {item["item_id"]: item for item in toy_lake[name]}
        rows = pq.read_table(leaf(name)).to_pylist()
        for row in rows:
            choices = items[row["item_id"]]["choices"]
            # rc scores the choice text, mc its letter; PMI's request drops the " " delimiter
            answer = (
                choices[row["choice_index"]] if name == "toy_rc" else "ABCD"[row["choice_index"]]
            )
            assert row["logprob_uncond"] == pytest.approx(logprob_after_bos(answer), abs=1e-4)
            assert row["logprob_uncond"] != pytest.approx(row["logprob"], abs=1e-3)
    # partial scoring: one shared continuation, so every choice has the same bare log-prob
    partial = pq.read_table(leaf("toy_partial")).to_pylist()
    by_item: dict[str, set] = {}
    for row in partial:
        by_item.setdefault(row["item_id"], set()).add(round(row["logprob_uncond"], 9))
    assert all(len(values) == 1 for values in by_item.values())
    # without --pmi the column stays empty
    assert {row["logprob_uncond"] for row in pq.read_table(leaf("toy_fewshot")).to_pylist()} == {
        None
    }


def test_cli_scores_a_model_dir_and_reports_bad_dirs(tiny_model_dir, toy_lake, tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "score",
            "--model",
            str(tiny_model_dir),
            "--run-id",
            "toy_llama",
            "--benchmark",
            "toy_mc",
            "--limit",
            "2",
            "--pmi",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 leaves written" in result.output
    written = lake.predictions_path("389K", "toy_llama", 0, "pretrain", "toy_mc", 0)
    assert None not in pq.read_table(written)["logprob_uncond"].to_pylist()
    assert "scale=389K" in result.output  # no --scale: the label comes from the parameter count
    result = runner.invoke(app, ["score", "--model", str(tmp_path / "missing"), "--run-id", "x"])
    assert result.exit_code == 1
    assert "model directory does not exist" in result.output
    result = runner.invoke(app, ["score", "--run", "bad/../id", "--stage", "pretrain"])
    assert result.exit_code == 1
    assert "is not a name" in result.output


def test_the_hf_path_never_imports_vllm():
    code = "import sys, scoring.score, scoring.backends.hf, scoring.cli; assert 'vllm' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
