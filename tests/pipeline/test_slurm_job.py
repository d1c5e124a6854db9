"""Inside a Slurm job, a training step given several GPUs runs its own `torchrun` command.

No cluster and no GPU needed: `run_step_job` is what each job calls; with `gpus=2` it launches
the step's torchrun command (2 gloo processes on CPU), and the checkpoint says two processes
trained it. The test cluster has no GPUs, so this path is checked here, outside Slurm.
"""

from __future__ import annotations

import json

import pytest
import yaml

from runner.slurm_executor import run_step_job
from runner.steps import IngestCorpus, Pretrain, Tokenizer
from runner.study_config import load_study
from runner.study_plan import plan_study
from xstage import lake

pytestmark = pytest.mark.slow


def test_a_training_job_given_two_gpus_runs_its_torchrun_command(mini_study, data_dir):
    study = yaml.safe_load(mini_study.read_text())
    # global batch 8 = 2 processes x micro-batches of 4 (the recipe's 8 suits one process)
    study["recipes"]["tiny"]["pretrain_overrides"]["micro_batch_size"] = 4
    mini_study.write_text(yaml.safe_dump(study))
    config, path = load_study(mini_study)
    steps = plan_study(config, path).steps
    for needed in steps:  # the corpora and the tokenizer, in this process
        if isinstance(needed, IngestCorpus | Tokenizer):
            needed.run()
    step = next(s for s in steps if isinstance(s, Pretrain))
    assert not step.done()
    seconds = run_step_job(step, "mini", str(data_dir), gpus=2)
    assert step.done()
    assert seconds > 0
    meta = json.loads((lake.run_stage_dir(step.run_id, "pretrain") / "final/meta.json").read_text())
    assert meta["device"].endswith("x2"), meta["device"]  # two torchrun processes trained it
    events = [json.loads(line) for line in (lake.study_dir("mini") / "steps.jsonl").open()]
    assert [e["event"] for e in events if e["step"] == step.name][-2:] == ["started", "done"]
    assert run_step_job(step, "mini", str(data_dir), gpus=2) == 0.0  # a rerun job does nothing
