"""scoring.last_checkpoints and the study's warehouse vars through the typed steps and the CLI.

A Score step with last_checkpoints = n scores `final` and the newest n - 1 periodic checkpoints
before it; its commands (`xstage score --checkpoint ...`) make exactly the calls run() makes, and
the Build step passes the study's dbt vars (`xstage build --var ...`). The recorder of
tests/pipeline/test_steps.py stands in for the stage library call, as there.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import replace

import yaml

from runner import steps
from runner.study_config import load_study
from runner.study_plan import plan_study
from tests.pipeline.test_steps import invoke, record_calls
from xstage import lake
from xstage.config import config_dir
from xstage.run_record import META_FILE, CheckpointMeta


def _checkpoint(run_id: str, name: str, step: int) -> None:
    """A finished checkpoint's meta.json (the steps read nothing else of it)."""
    path = lake.run_stage_dir(run_id, "pretrain") / name
    path.mkdir(parents=True)
    scale, mixture, seed = run_id.split("__")
    meta = CheckpointMeta(
        run_id=run_id, stage="pretrain", scale=scale, mixture=mixture,
        seed=int(seed.removeprefix("seed")), checkpoint_step=step, n_tokens_seen=step * 64,
        config_hash="c", tokenizer_hash="t", n_params=1, n_params_non_embedding=1,
        n_params_nominal=1, recipe="r", study="ckpts", seq_len=64, wall_seconds=1.0,
        created_at=dt.datetime(2026, 12, 3, tzinfo=dt.UTC), device="cpu", git_sha=None,
        checkpoint_sha256="0" * 64,
    )  # fmt: skip
    (path / META_FILE).write_text(meta.to_json())


def _study(tmp_path, **changes):
    data = yaml.safe_load((config_dir() / "studies" / "demo.yaml").read_text())
    data["id"] = "ckpts"
    data["scoring"] = {"backend": "hf", "device": "cpu", "dtype": "float32"}
    data["scoring"] |= changes.pop("scoring", {})
    data |= changes
    path = tmp_path / "ckpts.yaml"
    path.write_text(yaml.safe_dump(data))
    return plan_study(*load_study(path))


def test_score_reads_final_and_the_newest_earlier_checkpoints(tmp_path, data_dir, monkeypatch):
    plan = _study(tmp_path, scoring={"last_checkpoints": 3})
    score = next(s for s in plan.steps if isinstance(s, steps.Score) and s.stage == "pretrain")
    assert score.last_checkpoints == 3
    assert steps.last_checkpoints(score.run_id, "pretrain", 3) == ["final"]  # not trained yet
    for name, step in (("final", 1000), ("step-0000500", 500), ("step-0000800", 800),
                       ("step-0000900", 900), ("step-0001000", 1000)):  # fmt: skip
        _checkpoint(score.run_id, name, step)
    # step-0001000 is final's own step (the same weights): skipped; 500 is one too many
    assert steps.last_checkpoints(score.run_id, "pretrain", 3) == [
        "final", "step-0000900", "step-0000800",
    ]  # fmt: skip
    assert steps.last_checkpoints(score.run_id, "pretrain", 1) == ["final"]
    assert not score.done()
    calls = record_calls(monkeypatch, steps.Score)
    with contextlib.suppress(Exception):
        score.run()
    from_run = list(calls)
    calls.clear()
    for words in score.commands():
        invoke(words)
    checkpoints = [c["checkpoint"] for c in from_run]
    assert list(dict.fromkeys(checkpoints)) == ["final", "step-0000900", "step-0000800"]
    assert len(checkpoints) == 3 * len(steps.limit_groups(score.limits))
    assert calls == from_run


def test_build_gets_the_study_vars_that_differ_from_the_defaults(tmp_path, data_dir, monkeypatch):
    defaults = _study(tmp_path, decision_bootstrap_resamples=1000)
    plain = next(s for s in defaults.steps if isinstance(s, steps.Build))
    assert plain.dbt_vars == ()
    assert plain.commands() == [["xstage", "build"]]
    plan = _study(tmp_path, scoring={"last_checkpoints": 2}, decision_bootstrap_resamples=50)
    build = next(s for s in plan.steps if isinstance(s, steps.Build))
    assert build.dbt_vars == (("decision_bootstrap_resamples", 50), ("last_checkpoints", 2))
    calls = record_calls(monkeypatch, steps.Build)
    build.run()
    from_run = list(calls)
    calls.clear()
    for words in build.commands():
        invoke(words)
    assert from_run[0]["dbt_vars"] == {"decision_bootstrap_resamples": 50, "last_checkpoints": 2}
    assert calls == from_run
    assert replace(build, dbt_vars=()).commands() == plain.commands()
