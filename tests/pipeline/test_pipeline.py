import json

import pytest
import yaml

from runner import pipeline
from runner.study_config import load_study
from runner.study_plan import plan_study
from xstage import lake
from xstage.config import config_dir


@pytest.fixture
def mini_plan(tmp_path):
    data = yaml.safe_load((config_dir() / "studies" / "demo.yaml").read_text())
    data |= {
        "id": "mini",
        "scales": ["tiny"],
        "benchmarks": ["copa", "cb", "qqp"],
        "max_docs_per_corpus": 20,
        "max_chat_examples": 10,
        "items_per_benchmark_overrides": {},
    }
    data["recipes"].pop("small")
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(data))
    config, path = load_study(str(path))
    return plan_study(config, path)


@pytest.mark.slow
def test_ingest_runs_once_then_skips(mini_plan, data_dir):
    first = pipeline.run_study(mini_plan, "ingest")
    assert {outcome.status for outcome in first} == {"ran"}
    assert len(first) == 3 + 5 + 1  # benchmarks, corpora, chat
    assert lake.benchmark_items_path("qqp").is_file()
    assert lake.chat_examples_path("alpaca_gpt4").is_file()
    leaf = lake.benchmark_items_path("copa")
    mtime = leaf.stat().st_mtime_ns
    second = pipeline.run_study(mini_plan, "ingest")
    assert {outcome.status for outcome in second} == {"skipped"}
    assert leaf.stat().st_mtime_ns == mtime
    events = pipeline.read_step_log("mini")
    assert [e["event"] for e in events] == ["started", "done"] * 9 + ["skipped"] * 9
    resolved = json.loads((lake.study_dir("mini") / "study.json").read_text())
    assert resolved["study"]["benchmarks"] == ["copa", "cb", "qqp"]


def test_a_failing_step_is_named_and_logged(mini_plan, data_dir):
    with pytest.raises(pipeline.StepError, match="study step 'pretrain tiny__demo_minimal"):
        pipeline.run_study(mini_plan, "pretrain")  # nothing ingested, no tokenizer
    events = pipeline.read_step_log("mini")
    assert [(e["kind"], e["event"]) for e in events] == [
        ("pretrain", "started"),
        ("pretrain", "failed"),
    ]
