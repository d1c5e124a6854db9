"""lighteval details files built in the documented schema: nested doc / model_response / metric."""

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from importers.batch import ImportFailed, RunKey
from importers.lighteval import import_lighteval
from xstage import lake, schemas

RUN = RunKey("smol", "sft", "135M", "smollm2")
STAMP = "2025-03-01T12-00-00.000001"


def detail(i: int, logprobs: list[float], gold: int | list[int], uncond: bool = False) -> dict:
    """One row as lighteval's Dataset.from_list([asdict(Detail)]) stores it."""
    choices = [f" answer {i}-{k}" for k in range(len(logprobs))]
    best = max(range(len(logprobs)), key=lambda k: (logprobs[k], -k))
    gold_list = gold if isinstance(gold, list) else [gold]
    return {
        "doc": {
            "query": f"Question: item {i}?\nAnswer:",
            "choices": choices,
            "gold_index": gold,
            "instruction": "",
            "id": "",
            "task_name": "lighteval|toy_mc|0",
            "fewshot_samples": [],
            "specific": None,
        },
        "model_response": {
            "input": f"Question: item {i}?\nAnswer:",
            "text": [],
            "logprobs": logprobs,
            "argmax_logits_eq_gold": [k == best for k in range(len(logprobs))],
            "unconditioned_logprobs": [v - 1.0 for v in logprobs] if uncond else None,
            "input_tokens": [],
            "output_tokens": [],
            "truncated_tokens_count": 0,
            "padded_tokens_count": 0,
        },
        "metric": {"acc": float(best in gold_list)},
    }


def write_details(folder: Path, task: str, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"details_{task}_{STAMP}.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_details_import_reproduces_lighteval_acc_and_keeps_unconditioned_logprobs(
    tmp_path, data_dir
):
    rows = [
        detail(0, [-1.0, -2.0, -3.0, -4.0], 0, uncond=True),
        detail(1, [-2.0, -1.0, -1.0, -4.0], 2, uncond=True),  # tie at 1/2: lowest index wins
        detail(2, [-5.0, -2.0, -3.0, -0.5], 3, uncond=True),
    ]
    path = write_details(tmp_path, "lighteval|toy_mc|0", rows)
    tasks = tmp_path / "map.yaml"
    tasks.write_text("tasks:\n  'lighteval|toy_mc': {benchmark: toy_mc, category: science}\n")
    summary = import_lighteval([path], RUN, task_map=tasks)
    assert summary.rows["predictions"] == 12
    leaf = lake.predictions_path("135M", "smollm2", 0, "sft", "toy_mc", 0)
    assert pq.read_schema(leaf).equals(schemas.PREDICTIONS)
    sql = f"""
        with ranked as (select item_id, is_gold, row_number() over (
            partition by item_id order by logprob desc, choice_index) as rank
            from read_parquet('{leaf}'))
        select avg(case when is_gold then 1.0 else 0.0 end) from ranked where rank = 1"""
    assert duckdb.sql(sql).fetchall()[0][0] == pytest.approx(2 / 3)
    assert sum(row["metric"]["acc"] for row in rows) / 3 == pytest.approx(2 / 3)
    table = pq.read_table(leaf).to_pylist()
    assert table[0]["logprob_uncond"] == pytest.approx(table[0]["logprob"] - 1.0)
    assert {row["backend"] for row in table} == {"lighteval"}
    items = pq.read_table(lake.benchmark_items_path("toy_mc")).to_pylist()
    assert items[0]["choices"] == ["answer 0-0", "answer 0-1", "answer 0-2", "answer 0-3"]
    assert {item["category"] for item in items} == {"science"}
    assert [item["item_id"] for item in items] == ["000000", "000001", "000002"]


def test_default_map_sends_lighteval_arc_easy_to_arc_easy(tmp_path, data_dir):
    path = write_details(tmp_path, "lighteval|arc:easy|0", [detail(0, [-1.0, -2.0], 0)])
    import_lighteval([path], RUN)
    assert lake.benchmark_items_path("arc_easy").is_file()
    items = pq.read_table(lake.benchmark_items_path("arc_easy")).to_pylist()
    assert items[0]["category"] == "science"  # from configs/benchmarks/arc_easy.yaml


def test_bad_details_are_reported_by_row_and_nothing_is_written(tmp_path, data_dir):
    short = detail(1, [-1.0, -2.0, -3.0], [0])
    short["model_response"]["argmax_logits_eq_gold"] = [True, False]
    rows = [detail(0, [-1.0, -2.0, -3.0], [0]), short, detail(2, [-1.0, -2.0, -3.0], [0, 1])]
    path = write_details(tmp_path, "community|my-task|0", rows)
    unknown_map = tmp_path / "map.yaml"
    with pytest.raises(ImportFailed) as caught:
        import_lighteval([path], RUN)
    assert "unknown task 'community|my-task|0'" in str(caught.value)
    unknown_map.write_text("tasks:\n  'community|my-task': {benchmark: my_task}\n")
    with pytest.raises(ImportFailed) as caught:
        import_lighteval([path], RUN, task_map=unknown_map)
    message = str(caught.value)
    assert f"{path}: row 1: choice count disagrees with the item" in message
    assert f"{path}: row 2: malformed detail: gold_index [0, 1]" in message
    assert not (data_dir / "lake").exists()


def test_a_parquet_without_the_nested_columns_is_refused(tmp_path, data_dir):
    path = tmp_path / f"details_lighteval|arc:easy|0_{STAMP}.parquet"
    pq.write_table(pa.table({"predictions": [[-1.0, -2.0]]}), path)
    with pytest.raises(ImportFailed, match=r"no column\(s\) \['doc', 'model_response', 'metric'\]"):
        import_lighteval([path], RUN)


def test_a_file_written_the_way_lighteval_writes_it_imports(tmp_path, data_dir):
    from datasets import Dataset

    dataset = Dataset.from_list([detail(i, [-1.0 - i, -2.0, -0.5], 1) for i in range(3)])
    dataset = dataset.select_columns(sorted(dataset.column_names))  # as EvaluationTracker does
    path = tmp_path / f"details_lighteval|arc:easy|0_{STAMP}.parquet"
    dataset.to_parquet(str(path))
    summary = import_lighteval([path], RUN)
    assert summary.rows["predictions"] == 9
    assert summary.rows["imported_metrics"] == 3


def _toy_map(tmp_path: Path) -> Path:
    tasks = tmp_path / "map.yaml"
    tasks.write_text("tasks:\n  'lighteval|toy_mc': {benchmark: toy_mc, category: science}\n")
    return tasks


def test_string_flags_are_read_as_booleans_not_by_truthiness(tmp_path, data_dir):
    """lighteval files seen in the wild hold "False"/"True" strings; "False" is False."""
    row = detail(0, [-1.0, -2.0, -3.0], 0)
    row["model_response"]["argmax_logits_eq_gold"] = ["True", "False", "false"]
    path = write_details(tmp_path, "lighteval|toy_mc|0", [row])
    import_lighteval([path], RUN, task_map=_toy_map(tmp_path))
    leaf = lake.predictions_path("135M", "smollm2", 0, "sft", "toy_mc", 0)
    flags = {r["choice_index"]: r["is_greedy"] for r in pq.read_table(leaf).to_pylist()}
    assert flags == {0: True, 1: False, 2: False}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("logprobs", [5.0, -1.0, -2.0], "is not a finite number <= 0"),
        ("logprobs", [float("nan"), -1.0, -2.0], "is not a finite number <= 0"),
        ("unconditioned_logprobs", [float("inf"), -1.0, -2.0], "is not a finite number <= 0"),
        ("argmax_logits_eq_gold", ["maybe", "False", "False"], "is not a boolean"),
    ],
)
def test_bad_numbers_and_flags_are_refused_by_row(tmp_path, data_dir, field, value, message):
    good = detail(0, [-1.0, -2.0, -3.0], 0, uncond=True)
    bad = detail(1, [-1.0, -2.0, -3.0], 0, uncond=True)
    bad["model_response"][field] = value
    if field == "argmax_logits_eq_gold":  # one Parquet column type: every row's flags as strings
        good["model_response"][field] = ["True", "False", "False"]
    path = write_details(tmp_path, "lighteval|toy_mc|0", [good, bad])
    with pytest.raises(ImportFailed) as caught:
        import_lighteval([path], RUN, task_map=_toy_map(tmp_path))
    assert f"{path}: row 1" in str(caught.value)
    assert message in str(caught.value)
    assert not (data_dir / "lake" / "predictions").exists()
