"""The study's `slurm:` block, the jobs it makes, and the state rules behind `xstage status`.

No cluster here: these check what needs none (resource resolution, validation messages, the
sbatch options of paper.yaml's jobs, job tags, the job registry, squeue-state rules, the local
side of the status grid). tests/pipeline/test_slurm.py runs the real thing.
"""

from __future__ import annotations

import json
import os

import pytest
import yaml
from pydantic import ValidationError

from runner.pipeline import append_step_log
from runner.slurm_config import SlurmSpec
from runner.slurm_executor import sbatch_options
from runner.slurm_jobs import JobRegistry, LiveJob, job_state, job_tag, step_of_tag
from runner.study_config import load_study
from runner.study_plan import plan_study
from runner.study_status import grid_rows, plain_lines, step_states


def test_resources_fall_back_from_scale_to_kind_to_defaults():
    spec = SlurmSpec.model_validate(
        {
            "defaults": {"cpus": 2, "gpus": 0, "memory_gb": 8, "time_minutes": 30},
            "steps": {
                "pretrain": {"gpus": 4, "partition": "gpu", "scales": {"1B": {"time_minutes": 600}}}
            },
        }
    )
    big = spec.resolve("pretrain", "1B")
    assert (big.partition, big.gpus, big.cpus, big.memory_gb, big.time_minutes) == (
        "gpu",
        4,
        2,
        8,
        600,
    )
    assert spec.resolve("pretrain", "240M").time_minutes == 30
    assert spec.resolve("build").gpus == 0
    assert spec.resolve("build").partition is None


def test_only_training_may_ask_for_several_gpus():
    with pytest.raises(ValidationError, match=r"slurm\.steps\.score: gpus 2 at '1B'"):
        SlurmSpec.model_validate({"steps": {"score": {"scales": {"1B": {"gpus": 2}}}}})
    with pytest.raises(ValidationError, match="extra"):
        SlurmSpec.model_validate({"steps": {"pretrain": {"gpu": 8}}})
    with pytest.raises(ValidationError, match=r"slurm\.defaults: set cpus"):
        SlurmSpec.model_validate({"defaults": {"gpus": 0}})


def test_paper_jobs_take_whole_gpu_nodes_for_training_and_one_gpu_for_scoring():
    config, path = load_study("paper")
    plan = plan_study(config, path)
    options = {step.name: " ".join(sbatch_options(plan, step)) for step in plan.steps}
    assert options["pretrain 1B__dclm_25_45_30__seed0"] == (
        "--partition=gpu --cpus-per-task=96 --mem=1048576M --time=2880 --gpus-per-node=8 "
        "(torchrun --nproc_per_node=8)"
    )
    assert "--time=360 " in options["pretrain 240M__dclm_25_45_30__seed0"]
    assert "--time=360 " in options["sft 1B__dclm_25_45_30__seed0"]  # scale read via run id
    assert options["score 1B__dclm_25_45_30__seed0 sft"].endswith("--gpus-per-node=1")
    assert (
        options["build warehouse"] == "--partition=cpu --cpus-per-task=16 --mem=65536M --time=120"
    )


def test_job_tags_name_the_step_without_spaces_and_only_for_their_study(data_dir):
    tag = job_tag("mini", "score tiny__a__seed0 sft")
    assert " " not in tag
    assert step_of_tag("mini", tag) == "score tiny__a__seed0 sft"
    assert step_of_tag("other", tag) is None


def test_registry_adopts_tagged_jobs_it_never_wrote_down(data_dir):
    registry = JobRegistry("mini")
    registry.record("tokenizer mini", "7")
    live = {"9": LiveJob("9", "PENDING", "Dependency", job_tag("mini", "tokenizer mini"))}
    registry.adopt(live)
    on_disk = json.loads(registry.path.read_text())["jobs"]
    assert on_disk == {"tokenizer mini": ["7", "9"]}
    assert JobRegistry.load("mini").latest("tokenizer mini") == "9"
    assert not [p for p in registry.path.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("state", "reason", "expected"),
    [
        ("PENDING", "Resources", "queued"),
        ("PENDING", "DependencyNeverSatisfied", "blocked"),
        ("RUNNING", "None", "running"),
        ("COMPLETING", "None", "running"),
        ("FAILED", "NonZeroExitCode", "ended"),
        ("COMPLETED", "None", "ended"),
    ],
)
def test_squeue_states_map_to_step_states(state, reason, expected):
    assert job_state("5", {"5": LiveJob("5", state, reason, "t")}) == expected


def test_job_state_without_a_job_or_once_squeue_forgot_it():
    assert job_state(None, {}) == "none"
    assert job_state("5", {}) == "ended"


def test_local_status_reads_the_step_log(mini_study, data_dir):
    data = yaml.safe_load(mini_study.read_text())
    config, path = load_study(mini_study)
    plan = plan_study(config, path)
    pretrain, sft = (
        s for s in plan.steps if s.kind in ("pretrain", "sft") and "minimal_65" in s.name
    )
    append_step_log("mini", pretrain, "started")  # this process: alive, so running
    append_step_log("mini", sft, "started")
    append_step_log("mini", sft, "failed")
    states, note = step_states(plan)
    assert note == ""
    assert states[pretrain.name].state == "running"
    assert states[pretrain.name].detail == f"pid {os.getpid()}"
    assert states[sft.name].state == "failed"
    assert states[sft.name].detail.endswith("studies/mini/steps.jsonl")
    rows = grid_rows(plan, states)
    assert len(rows) == len(data["mixtures"]) * 2
    lines = plain_lines(plan, states)
    assert (
        f"tiny {pretrain.mixture} seed0 pretrain: train running (pid {os.getpid()}); score pending"
        in lines
    )
    assert "ingest (9 study steps): 9 pending" in lines
