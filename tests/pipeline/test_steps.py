"""Every step kind's `command()`, run through the real CLI, makes exactly the call `run()` makes.

The stage library function a step calls is replaced by a recorder (the one stand-in here: the
point is the call, not the work); the real typer commands parse the argv, load configs and call
it. Arguments are compared after binding to the function's signature, so positional and keyword
spellings of the same call compare equal, and any other difference fails.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import shlex

import pytest
import yaml
from typer.testing import CliRunner

from runner import steps
from runner.cli import app
from runner.study_config import load_study
from runner.study_plan import plan_study
from training.__main__ import app as training_app
from xstage.config import config_dir

# Step class -> the library function its run() and its CLI command both call.
TARGETS = {
    steps.IngestBenchmark: "ingest.benchmark_items:ingest_benchmarks",
    steps.IngestCorpus: "ingest.corpora:ingest_corpus",
    steps.IngestChat: "ingest.chat:ingest_chat",
    steps.Tokenizer: "training.tokenizer:train_study_tokenizer",
    steps.Pretrain: "training.pretrain:run",
    steps.Sft: "training.sft:run",
    steps.Score: "scoring.score:score_run",
    steps.Build: "warehouse.build:build",
    steps.Report: "warehouse.report:write_report",
}


@pytest.fixture(scope="module")
def mini_plan(tmp_path_factory):
    """The demo study with overrides, pmi, batch_tokens and `device: auto` (every option set)."""
    data = yaml.safe_load((config_dir() / "studies" / "demo.yaml").read_text())
    data["id"] = "mini"
    data["recipes"]["tiny"]["pretrain_overrides"] = {"train_tokens": 4096, "lr": 0.002}
    data["recipes"]["tiny"]["sft_overrides"] = {"max_examples": 16}
    data["scoring"] = {"backend": "hf", "device": "auto", "dtype": "float32"}
    data["scoring"] |= {"batch_tokens": 2048, "pmi": True}
    path = tmp_path_factory.mktemp("study") / "mini.yaml"
    path.write_text(yaml.safe_dump(data))
    config, resolved = load_study(path)
    return plan_study(config, resolved)


def one_of_each(plan) -> list[steps.Step]:
    chosen: dict[type, steps.Step] = {}
    for step in plan.steps:
        chosen.setdefault(type(step), step)
    assert set(chosen) == set(TARGETS)
    return list(chosen.values())


def _normal(value):
    if callable(value):
        return "<callback>"
    if isinstance(value, tuple | list):
        return [_normal(item) for item in value]
    return value


def record_calls(monkeypatch, step_type) -> list[dict]:
    """Replace the step's library function by a recorder of its bound arguments."""
    module_name, _, attr = TARGETS[step_type].partition(":")
    module = importlib.import_module(module_name)
    signature = inspect.signature(getattr(module, attr))
    calls: list[dict] = []

    def recorder(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        calls.append({name: _normal(value) for name, value in bound.arguments.items()})

    monkeypatch.setattr(module, attr, recorder)
    return calls


def invoke(words: list[str]) -> None:
    """Run one argv through the real CLI: `xstage ...` or `torchrun ... -m training ...`."""
    if words[0] == "torchrun":
        assert words[1].startswith("--nproc_per_node=")
        assert words[2:4] == ["-m", "training"]
        CliRunner().invoke(training_app, words[4:])
    else:
        assert words[0] == "xstage"
        CliRunner().invoke(app, words[1:])


@pytest.mark.parametrize("kind", list(TARGETS), ids=lambda kind: kind.__name__)
def test_command_makes_the_call_run_makes(kind, mini_plan, data_dir, monkeypatch):
    step = next(s for s in one_of_each(mini_plan) if type(s) is kind)
    calls = record_calls(monkeypatch, kind)
    with contextlib.suppress(Exception):  # the recorder returns None; callers may trip on it
        step.run()
    from_run = list(calls)
    calls.clear()
    for words in step.commands(nproc=2):
        invoke(words)
    assert from_run, f"{step.name}: run() made no call"
    assert calls == from_run


def test_auto_device_is_resolved_once_for_both_paths(mini_plan):
    import torch

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    score = next(s for s in mini_plan.steps if isinstance(s, steps.Score))
    assert score.device == expected
    assert all(f"--device {expected}" in shlex.join(w) for w in score.commands())


def test_pmi_and_batch_tokens_reach_every_score_command(mini_plan):
    scores = [s for s in mini_plan.steps if isinstance(s, steps.Score)]
    lines = [shlex.join(words) for s in scores for words in s.commands()]
    assert len(scores) == 36
    assert len(lines) > 36
    assert all("--pmi" in line and "--batch-tokens 2048" in line for line in lines)


def test_score_groups_benchmarks_into_one_call_per_sample_size(mini_plan, monkeypatch):
    score = next(s for s in mini_plan.steps if isinstance(s, steps.Score))
    calls = record_calls(monkeypatch, steps.Score)
    score.run()
    sizes = dict(score.limits)
    assert [c["limit"] for c in calls] == list(dict.fromkeys(sizes.values()))
    assert sorted(b for c in calls for b in c["benchmarks"]) == sorted(sizes)


def test_deps_name_earlier_steps_and_build_report_come_last(mini_plan):
    names = [step.name for step in mini_plan.steps]
    for index, step in enumerate(mini_plan.steps):
        assert set(step.deps) <= set(names[:index]), step.name
    assert [s.kind for s in mini_plan.steps[-2:]] == ["build", "report"]
    assert set(mini_plan.steps[-2].deps) == set(names[:-2])


def test_unknown_study_key_is_an_error_naming_it(tmp_path):
    from xstage.config import ConfigError

    data = yaml.safe_load((config_dir() / "studies" / "demo.yaml").read_text())
    data["skip_unavailable_benchmarks"] = True
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="skip_unavailable_benchmarks"):
        load_study(tmp_path / "demo.yaml")
