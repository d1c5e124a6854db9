import re

import pytest
from typer.testing import CliRunner

from runner import pipeline
from runner.cli import app
from runner.study_config import load_study
from runner.study_plan import checkpoint_meta, plan_study, study_corpora
from tests.checkpoints import write_meta
from xstage import lake


@pytest.fixture
def demo_plan():
    config, path = load_study("demo")
    return plan_study(config, path)


def test_demo_plan_covers_the_grid_in_stage_order(demo_plan):
    kinds = [step.kind for step in demo_plan.steps]
    order = ["ingest", "tokenizer", "pretrain", "sft", "score", "build", "report"]
    assert [kind for i, kind in enumerate(kinds) if i == 0 or kinds[i - 1] != kind] == order
    assert kinds.count("pretrain") == kinds.count("sft") == 18
    assert kinds.count("score") == 36
    assert len({step.name for step in demo_plan.steps}) == len(demo_plan.steps)


def test_study_corpora_are_the_mixtures_corpora():
    config, _ = load_study("demo")
    corpora = study_corpora(config)
    assert set(corpora) == {
        "demo_web_minimal",
        "demo_web_edu",
        "demo_web_quality",
        "demo_code",
        "demo_curated",
    }


def test_only_selects_one_kind_and_rejects_others(demo_plan):
    assert {step.kind for step in demo_plan.select("train")} == {"pretrain"}
    assert len(demo_plan.select("score")) == 36
    with pytest.raises(ValueError, match="--only 'bogus'"):
        demo_plan.select("bogus")


def test_done_checks_follow_the_lake(demo_plan, data_dir):
    pretrain = demo_plan.select("pretrain")[0]
    score = demo_plan.select("score")[0]
    assert not pretrain.done()
    assert not score.done()
    rid = pretrain.run_id
    final = lake.run_stage_dir(rid, "pretrain") / "final"
    written = write_meta(final, run_id=rid, checkpoint_step=7)
    assert pretrain.done()
    assert checkpoint_meta(rid, "pretrain") == written
    assert not score.done()  # no prediction leaves yet


def test_paper_dry_run_prices_pretraining_at_2900_h200_hours():
    result = CliRunner().invoke(
        app, ["run", "configs/studies/paper.yaml", "--dry-run"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "about 2,900 H200-hours" in result.output
    assert "576.0B" in result.output  # 9 x 12B + 9 x 52B tokens
    assert "cluster job" in result.output


def test_paper_pretraining_hours_match_design_section_8():
    config, path = load_study("paper")
    steps = plan_study(config, path).select("pretrain")
    hours = sum(step.seconds for step in steps) / 3600
    expected = 9 * 12e9 / 134_000 / 3600 + 9 * 52e9 / 49_000 / 3600
    assert hours == pytest.approx(expected)
    assert 2850 < hours < 2950


def test_demo_dry_run_shows_every_kind_pending():
    result = CliRunner().invoke(app, ["run", "demo", "--dry-run"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for kind, count in [("pretrain", 18), ("sft", 18), ("score", 36)]:
        assert re.search(rf"{kind}\s+│\s+{count}\s+│\s+{count}\s", result.output), result.output


def test_step_log_appends_events(demo_plan):
    step = demo_plan.steps[0]
    pipeline.append_step_log("demo", step, "started")
    pipeline.append_step_log("demo", step, "done", 1.25)
    events = pipeline.read_step_log("demo")
    assert [(e["step"], e["event"], e["seconds"]) for e in events] == [
        (step.name, "started", 0.0),
        (step.name, "done", 1.25),
    ]


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        (2877.4, "about 2,900 H200-hours"),
        (3074.9, "about 3,100 H200-hours"),
        (12.34, "about 12 H200-hours"),
        (2.5, "about 2.5 H200-hours"),
        (0.1, "about 6.0 minutes on H200"),
    ],
)
def test_device_time_rounds_to_two_significant_figures(hours, expected):
    from runner.study_tables import device_time

    assert device_time(hours, "H200") == expected


def test_summary_table_puts_all_last_and_scales_in_given_order():
    from rich.console import Console

    from runner.study_tables import summary_table

    rows = [
        {"scale": s, "category": c, "metric": m, "mean_r": r}
        for s, r in (("small", 0.5), ("tiny", -0.25))
        for c in ("all", "nli", "science")
        for m in ("accuracy", "confidence")
    ]
    console = Console(width=200, record=True)
    console.print(summary_table(rows, ["tiny", "small"], "marts.fct_category_transfer"))
    text = console.export_text()
    assert text.index("r_acc tiny") < text.index("r_acc small")
    assert text.index("│ nli") < text.index("│ science") < text.index("│ all ")
    assert "-0.25" in text
    assert "+0.50" in text


def test_score_steps_group_benchmarks_by_sample_size(demo_plan):
    from runner.study_plan import limit_groups

    step = demo_plan.select("score")[0]
    groups = dict(limit_groups(step.limits))
    assert groups[104] == ["wsc"]
    assert "boolq" in groups[40]
    assert sum(len(names) for names in groups.values()) == 17


def test_scoring_pmi_reaches_every_score_step(demo_plan):
    config, path = load_study("demo")
    assert {step.pmi for step in demo_plan.select("score")} == {False}
    with_pmi = config.model_copy(
        update={"scoring": config.scoring.model_copy(update={"pmi": True})}
    )
    steps = plan_study(with_pmi, path).select("score")
    assert steps
    assert {step.pmi for step in steps} == {True}
