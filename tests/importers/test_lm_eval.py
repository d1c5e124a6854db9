import gzip
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from importers.batch import ImportFailed, RunKey
from importers.lm_eval import import_lm_eval
from runner.cli import app
from xstage import lake, schemas

from .conftest import TOY_MAP, toy_lines, write_samples

RUN = RunKey("pythia_14m", "pretrain", "14M", "pythia")


def lake_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "lake").rglob("*.parquet")) if (data_dir / "lake").exists() else []


def accuracy_by_benchmark(data_dir: Path, normalization: str = "none") -> dict[str, float]:
    """Argmax per item with exact ties to the lowest index (lm-eval's np.argmax)."""
    score = {"none": "logprob", "per_char": "logprob / n_chars"}[normalization]
    sql = f"""
        with ranked as (
            select benchmark, item_id, is_gold, row_number() over (
                partition by benchmark, item_id order by {score} desc, choice_index) as rank
            from read_parquet('{data_dir}/lake/predictions/**/*.parquet',
                              hive_partitioning = true, hive_types_autocast = false))
        select benchmark, avg(case when is_gold then 1.0 else 0.0 end)
        from ranked where rank = 1 group by benchmark"""
    return dict(duckdb.sql(sql).fetchall())


def mean_of_field(path: Path, field: str) -> float | None:
    with gzip.open(path, "rt") as handle:
        values = [json.loads(line).get(field) for line in handle]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def test_real_metabench_file_imports_and_accuracy_equals_acc_mean(metabench_dir, data_dir):
    summary = import_lm_eval([metabench_dir], RUN)
    assert summary.rows["predictions"] == 1915
    assert summary.rows["benchmark_items"] == 100 + 58 + 102 + 136 + 106
    accuracy = accuracy_by_benchmark(data_dir)
    per_char = accuracy_by_benchmark(data_dir, "per_char")
    for path in sorted(metabench_dir.glob("samples_*.jsonl.gz")):
        task = path.name.removeprefix("samples_").split("_2024")[0]
        assert accuracy[task] == pytest.approx(mean_of_field(path, "acc"), abs=1e-12), task
        acc_norm = mean_of_field(path, "acc_norm")
        if acc_norm is not None:  # both divide by the answer text alone (no leading space)
            assert per_char[task] == pytest.approx(acc_norm, abs=1e-12), task
    assert set(accuracy) == {
        "metabench_arc_secondary",
        "metabench_hellaswag_secondary",
        "metabench_mmlu_secondary",
        "metabench_truthfulqa_secondary",
        "metabench_winogrande_secondary",
    }


def test_real_file_has_exact_ties_that_resolve_to_the_lowest_index(metabench_dir, data_dir):
    import_lm_eval([metabench_dir], RUN)
    sql = f"""
        select count(*) from (
            select benchmark, item_id, max(logprob) as top, count(*) filter (where logprob = top_all)
            as n_top from (
                select *, max(logprob) over (partition by benchmark, item_id) as top_all
                from read_parquet('{data_dir}/lake/predictions/**/*.parquet',
                                  hive_partitioning = true, hive_types_autocast = false))
            group by all) where n_top > 1"""
    assert duckdb.sql(sql).fetchall()[0][0] > 0  # so the equality above really tests the tie rule


def test_imported_rows_follow_the_lake_contracts(metabench_dir, data_dir):
    import_lm_eval([metabench_dir], RUN)
    bench = "metabench_winogrande_secondary"
    args = ("14M", "pythia", 0, "pretrain", bench, 0)
    predictions = lake.predictions_path(*args)
    assert pq.read_schema(predictions).equals(schemas.PREDICTIONS)
    assert pq.read_schema(lake.imported_metrics_path(*args)).equals(schemas.IMPORTED_METRICS)
    items = pq.read_table(lake.benchmark_items_path(bench)).to_pylist()
    assert pq.read_schema(lake.benchmark_items_path(bench)).equals(schemas.BENCHMARK_ITEMS)
    item = items[0]
    # partial scoring: one context per choice, shared continuation, answer texts recovered
    assert len(item["choice_contexts"]) == 2
    assert item["continuation"]
    assert all(
        ctx.endswith(choice)
        for ctx, choice in zip(item["choice_contexts"], item["choices"], strict=True)
    )
    rows = pq.read_table(predictions).to_pylist()
    assert {row["n_tokens"] for row in rows} == {0}  # not known: documented, never guessed
    first = next(row for row in rows if row["item_id"] == item["item_id"])
    # The answer text alone: the target delimiter's leading space is not counted (lm-eval).
    assert item["continuation"].startswith(" ")
    assert first["n_chars"] == len(item["continuation"]) - 1
    run = pq.read_table(lake.runs_path("pythia_14m", "pretrain")).to_pylist()
    assert run[0]["origin"] == "import"
    assert run[0]["mixture"] == "pythia"
    assert run[0]["n_params_nominal"] == 14_000_000


def test_bad_lines_are_all_reported_with_file_and_line_and_nothing_is_written(tmp_path, data_dir):
    lines = toy_lines(3)
    short = dict(lines[1], filtered_resps=lines[1]["filtered_resps"][:2])
    bad = write_samples(tmp_path / "in", "toy_task", [lines[0], "{not json", short, lines[0]])
    unknown = write_samples(tmp_path / "in", "mmlu-anatomy", toy_lines(1))
    with pytest.raises(ImportFailed) as caught:
        import_lm_eval([bad, unknown], RUN, task_map=TOY_MAP)
    message = str(caught.value)
    assert f"{bad}:2: malformed sample" in message
    assert (
        f"{bad}:3: choice count disagrees with the item: 2 log-probs but 3 continuations" in message
    )
    assert f"{bad}:4: duplicate row" in message
    assert f"first seen at {bad}:1" in message
    assert f"{unknown}: unknown task 'mmlu-anatomy'" in message
    assert len(caught.value.problems) == 4
    assert lake_files(data_dir) == []


def test_gold_index_out_of_range_is_reported(tmp_path, data_dir):
    line = dict(toy_lines(1)[0], target="7")
    path = write_samples(tmp_path, "toy_task", [line])
    with pytest.raises(ImportFailed, match=r":1: gold index 7 is outside 0..2"):
        import_lm_eval([path], RUN, task_map=TOY_MAP)


def test_second_stage_reuses_items_and_reimport_needs_overwrite(tmp_path, data_dir):
    path = write_samples(tmp_path, "toy_task", toy_lines(4))
    import_lm_eval([path], RUN, task_map=TOY_MAP)
    items = lake.benchmark_items_path("toy_task")
    before = items.read_bytes()
    sft = RunKey("pythia_14m", "sft", "14M", "pythia")
    summary = import_lm_eval([path], sft, task_map=TOY_MAP)
    assert "benchmark_items" not in summary.rows
    assert items.read_bytes() == before
    with pytest.raises(ImportFailed, match="already imported; pass --overwrite"):
        import_lm_eval([path], sft, task_map=TOY_MAP)
    assert import_lm_eval([path], sft, task_map=TOY_MAP, overwrite=True).rows["predictions"] == 12
    assert accuracy_by_benchmark(data_dir) == {"toy_task": pytest.approx(0.5)}


def test_items_colliding_with_an_ingested_benchmark_are_never_overwritten(tmp_path, data_dir):
    ingested = lake.benchmark_items_path("arc_easy")
    table = pq.read_table(_write_ingested(tmp_path, ingested, question="Something else?"))
    before = ingested.read_bytes()
    path = write_samples(tmp_path / "in", "arc_easy", toy_lines(2))
    with pytest.raises(ImportFailed, match="never overwritten") as caught:
        import_lm_eval([path], RUN, task_map=TOY_MAP)
    assert "--task-map" in str(caught.value)
    assert ingested.read_bytes() == before
    assert table.num_rows == 1
    assert [p for p in lake_files(data_dir) if p != ingested] == []


def test_items_matching_an_ingested_benchmark_by_text_take_its_item_ids(tmp_path, data_dir):
    ingested = lake.benchmark_items_path("arc_easy")
    _write_ingested(tmp_path, ingested, question="What is 0 plus one?")
    path = write_samples(tmp_path / "in", "arc_easy", toy_lines(1))
    summary = import_lm_eval([path], RUN, task_map=TOY_MAP)
    assert "benchmark_items" not in summary.rows
    rows = pq.read_table(lake.predictions_path("14M", "pythia", 0, "pretrain", "arc_easy", 0))
    assert set(rows.column("item_id").to_pylist()) == {"test-000000"}


def _write_ingested(tmp_path: Path, path: Path, question: str) -> Path:
    from xstage.hashing import item_hash

    context = f"Question: {question}\nAnswer:"
    row = {
        "item_id": "test-000000",
        "split": "test",
        "context": context,
        "choices": ["0", "1", "2"],
        "gold_index": 0,
        "category": "science",
        "n_choices": 3,
        "item_hash": item_hash(context, ["0", "1", "2"]),
        "source": "allenai/ai2_arc",
        "choice_contexts": None,
        "continuation": None,
    }
    import pyarrow as pa

    return lake.write_parquet(
        pa.Table.from_pylist([row], schema=schemas.BENCHMARK_ITEMS), path, schemas.BENCHMARK_ITEMS
    )


def test_cli_imports_and_exits_1_naming_the_problem(tmp_path, data_dir):
    path = write_samples(tmp_path, "toy_task", toy_lines(2))
    runner = CliRunner()
    args = [
        "import",
        "lm-eval",
        str(path),
        "--run-id",
        "toy",
        "--stage",
        "pretrain",
        "--task-map",
        str(TOY_MAP),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "--scale or --group is required" in result.output
    result = runner.invoke(app, [*args, "--scale", "1B", "--dry-run"])
    assert result.exit_code == 0
    assert "would write 4 files" in result.output
    assert lake_files(data_dir) == []
    result = runner.invoke(app, [*args, "--scale", "1B", "--unit", "toy_family"])
    assert result.exit_code == 0, result.output
    assert lake.predictions_path("1B", "toy_family", 0, "pretrain", "toy_task", 0).is_file()


def test_two_imported_items_matching_one_lake_item_are_a_duplicate(tmp_path, data_dir):
    ingested = lake.benchmark_items_path("arc_easy")
    _write_ingested(tmp_path, ingested, question="What is 0 plus one?")
    twin = dict(toy_lines(1)[0], doc_id=5)
    path = write_samples(tmp_path / "in", "arc_easy", [toy_lines(1)[0], twin])
    with pytest.raises(ImportFailed, match="both match lake item 'test-000000'"):
        import_lm_eval([path], RUN, task_map=TOY_MAP)
