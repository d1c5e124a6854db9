"""The Slurm executor: each pending study step becomes one Slurm job, submitted with submitit.

Used by: xstage run STUDY --executor slurm. Jobs wait on the jobs of the steps they read
(`--dependency=afterok:...`); build and report also share one job name per data dir with
`singleton`, so no two jobs that write the warehouse or a report ever run at once. Resources
come from the study's `slurm:` block (runner.slurm_config); training steps given several GPUs
run their `torchrun` command inside the job. A rerun skips finished steps, leaves steps whose
job is queued or running alone (their ids are in slurm/jobs.json, or found by their tag in
`squeue`), cancels jobs stuck behind a failed dependency and resubmits what failed. After
submitting it waits, showing the study's progress; killing it leaves the jobs running.
"""

from __future__ import annotations

import fcntl
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from runner.pipeline import StepError, StepOutcome, append_step_log, write_resolved_study
from runner.slurm_config import TORCHRUN_KINDS, Resolved
from runner.slurm_jobs import (
    JobRegistry,
    LiveJob,
    cancel,
    data_key,
    job_state,
    job_tag,
    log_paths,
    logs_dir,
    slurm_dir,
    squeue_jobs,
)
from runner.steps import Step
from runner.study_plan import StudyPlan, runs_of
from xstage import lake
from xstage.console import console
from xstage.ids import run_id

# How often the waiting submitter asks squeue (seconds).
POLL_SECONDS = 3.0


def step_scale(plan: StudyPlan, step: Step) -> str | None:
    """The scale a step trains or scores at (for per-scale resources), else None."""
    if hasattr(step, "scale"):
        return step.scale
    run = getattr(step, "run_id", None)  # an SFT step names its run only
    scales = {run_id(scale, mixture, seed): scale for scale, mixture, seed in runs_of(plan.study)}
    return scales.get(run)


def step_resources(plan: StudyPlan, step: Step) -> Resolved:
    """The job resources of one step, from the study's `slurm:` block."""
    return plan.study.slurm.resolve(step.kind, step_scale(plan, step))


def sbatch_options(plan: StudyPlan, step: Step) -> list[str]:
    """The sbatch options of one step's job, as `--dry-run --executor slurm` prints them."""
    res = step_resources(plan, step)
    options = [] if res.partition is None else [f"--partition={res.partition}"]
    options += [f"--cpus-per-task={res.cpus}", f"--mem={_mem(res)}", f"--time={res.time_minutes}"]
    if res.gpus:
        options.append(f"--gpus-per-node={res.gpus}")
    if res.gpus > 1 and step.kind in TORCHRUN_KINDS:
        options.append(f"(torchrun --nproc_per_node={res.gpus})")
    return options


def jobs_table(plan: StudyPlan, only: str | None):
    """The `--dry-run --executor slurm` table: each distinct job shape and its steps."""
    from rich.table import Table

    shapes: dict[tuple[str, str], list[Step]] = {}
    for step in plan.select(only):
        shapes.setdefault((step.kind, " ".join(sbatch_options(plan, step))), []).append(step)
    table = Table(title=f"Slurm jobs of study {plan.study.id} (one per study step)")
    for column in ("kind", "jobs", "sbatch options", "example"):
        table.add_column(column, overflow="fold")
    for (kind, options), steps in shapes.items():
        table.add_row(kind, str(len(steps)), options, steps[0].name)
    return table


def _mem(res: Resolved) -> str:
    return f"{round(res.memory_gb * 1024)}M"


def job_name(step: Step) -> str:
    """The Slurm job name: shared per data dir by the exclusive steps (for `singleton`)."""
    return f"xstage-{data_key()}-warehouse" if step.exclusive else f"xstage-{step.kind}"


# ---------------------------------------------------------------------------------------------
# Inside the job


def run_step_job(step: Step, study_id: str, data_dir: str, gpus: int) -> float:
    """Do one step inside its Slurm job; return its wall seconds.

    A resubmitted job whose work an earlier job finished does nothing. Training given several
    GPUs runs the step's own `torchrun` command (steps.Step.commands), which the step-command
    test proves equal to `run()`.
    """
    os.environ[lake.DATA_DIR_ENV] = data_dir
    if step.done():
        return 0.0
    append_step_log(study_id, step, "started")
    start, cpu = time.perf_counter(), _cpu()
    try:
        if gpus > 1 and step.kind in TORCHRUN_KINDS:
            for argv in step.commands(nproc=gpus):
                subprocess.run(_local_argv(argv), check=True)
        else:
            step.run()
        if not step.done():
            raise StepError(f"study step '{step.name}' returned but its outputs are missing")
    except BaseException:
        append_step_log(study_id, step, "failed", time.perf_counter() - start)
        raise
    seconds = time.perf_counter() - start
    append_step_log(study_id, step, "done", seconds, _cpu() - cpu)
    return seconds


def _cpu() -> float:
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _local_argv(argv: list[str]) -> list[str]:
    """`torchrun`/`xstage` from this interpreter's environment, whatever PATH the job has.

    torchrun gets `--standalone` (a free rendezvous port): two training jobs sharing a node
    would otherwise both rendezvous on port 29500.
    """
    sibling = Path(sys.executable).with_name(argv[0])
    launcher = [str(sibling) if sibling.exists() else argv[0]]
    return launcher + (["--standalone"] if argv[0] == "torchrun" else []) + argv[1:]


# ---------------------------------------------------------------------------------------------
# Submitting


def _executor(study_id: str):
    import submitit

    # No automatic requeue: a timed-out step fails and the next `xstage run` resubmits it
    # (training resumes from its last periodic checkpoint).
    return submitit.SlurmExecutor(folder=logs_dir(study_id), max_num_timeout=0)


def _submit(executor, plan: StudyPlan, step: Step, after: list[str]) -> str:
    res = step_resources(plan, step)
    params = {
        "job_name": job_name(step),
        "comment": job_tag(plan.study.id, step.name),
        "time": res.time_minutes,
        "nodes": 1,
        "ntasks_per_node": 1,
        "cpus_per_task": res.cpus,
        "mem": _mem(res),
        "partition": res.partition,
        "gpus_per_node": res.gpus or None,
        "setup": [f"export OMP_NUM_THREADS={res.cpus}"],
    }
    dependency = [f"afterok:{':'.join(after)}"] if after else []
    dependency += ["singleton"] if step.exclusive else []
    params["dependency"] = ",".join(dependency) or None
    executor.update_parameters(**{key: value for key, value in params.items() if value is not None})
    data_dir = str(lake.data_dir())
    try:
        job = executor.submit(run_step_job, step, plan.study.id, data_dir, res.gpus)
    except Exception as exc:  # submitit wraps sbatch's refusal; its text says why
        raise StepError(f"sbatch refused study step '{step.name}': {exc}") from None
    return str(job.job_id)


def submit_study(plan: StudyPlan, steps: list[Step]) -> tuple[dict[str, str], list[Step]]:
    """Submit every step that is neither done nor queued/running; return the active job ids.

    Holds a lock on the study's slurm dir, so two submitters never race. Returns the job id of
    every step now queued or running, and the steps that were already done.
    """
    if shutil.which("sbatch") is None:
        raise StepError("sbatch not found: --executor slurm runs on a Slurm login node")
    folder = slurm_dir(plan.study.id)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "submit.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StepError(
                f"another `xstage run --executor slurm` is submitting study {plan.study.id}"
            ) from None
        return _submit_pending(plan, steps)


def _submit_pending(plan: StudyPlan, steps: list[Step]) -> tuple[dict[str, str], list[Step]]:
    registry = JobRegistry.load(plan.study.id)
    live = squeue_jobs(plan.study.id)
    registry.adopt(live)
    _cancel_orphans(plan.study.id, registry, live)
    executor = _executor(plan.study.id)
    active: dict[str, str] = {}
    done: list[Step] = []
    for step in steps:
        job_id = registry.latest(step.name)
        state = job_state(job_id, live)
        if state in ("queued", "running"):
            active[step.name] = job_id
            continue
        if step.done():
            done.append(step)
            continue
        if state == "blocked":
            cancel([job_id])  # its dependency failed; that one is being resubmitted
        after = sorted({active[dep] for dep in step.deps if dep in active}, key=int)
        active[step.name] = _submit(executor, plan, step, after)
        registry.record(step.name, active[step.name])
        _say(f"submitted {step.name} as job {active[step.name]}" + _after(after))
    return active, done


def _cancel_orphans(study_id: str, registry: JobRegistry, live: dict[str, LiveJob]) -> None:
    """Cancel live jobs whose submitit pickle never landed (submitter killed after sbatch).

    Such a job would wait for its pickle and fail; cancelled now, its step is resubmitted.
    """
    for job in live.values():
        if job_state(job.job_id, live) not in ("queued", "running", "blocked"):
            continue
        if not (logs_dir(study_id) / f"{job.job_id}_submitted.pkl").exists():
            cancel([job.job_id])
            live.pop(job.job_id)


def _after(after: list[str]) -> str:
    return f" (after {', '.join(after)})" if after else ""


def _say(line: str) -> None:
    console.print(line, markup=False, highlight=False)


# ---------------------------------------------------------------------------------------------
# Waiting


@dataclass(frozen=True)
class SlurmExecutor:
    """A Slurm cluster: one job per pending step (runner.executor.Executor's one method)."""

    wait: bool = True
    """Wait for the jobs, showing progress; False submits and returns."""

    def run(self, plan: StudyPlan, only: str | None) -> list[StepOutcome]:
        """See runner.executor.Executor.run; submits, then (with `wait`) sees the jobs end."""
        return run_on_slurm(plan, only, self.wait)


def run_on_slurm(plan: StudyPlan, only: str | None, wait: bool = True) -> list[StepOutcome]:
    """Submit the pending steps of `plan` (or of one kind) and, with `wait`, see them finish.

    Raises StepError naming each failed step and its log; a rerun resubmits those.
    """
    from runner.study_progress import StudyProgress

    os.environ[lake.DATA_DIR_ENV] = str(lake.data_dir())  # jobs inherit an absolute path
    steps = plan.select(only)
    write_resolved_study(plan)
    active, done = submit_study(plan, steps)
    outcomes = {step.name: StepOutcome(step, "skipped") for step in done}
    if not wait:
        return list(outcomes.values())
    by_name = {step.name: step for step in steps}
    with StudyProgress(plan.study.id, len(steps), len(done)) as shown:
        failed = _wait(plan.study.id, active, by_name, outcomes, shown)
    if failed:
        raise StepError("; ".join(failed) + "; rerun the same command to resubmit")
    return [outcomes[step.name] for step in steps if step.name in outcomes]


def _wait(study_id, active, by_name, outcomes, shown) -> list[str]:
    """Poll squeue until no job of `active` is queued or running; return failure messages."""
    failed: list[str] = []
    while active:
        live = squeue_jobs(study_id)
        for name, job_id in list(active.items()):
            state = job_state(job_id, live)
            step = by_name[name]
            if state == "running":
                shown.running(step, job_id)
            elif state == "ended" or state == "blocked":
                del active[name]
                if state == "blocked":
                    cancel([job_id])
                    failed.append(f"'{name}' (job {job_id}) was cancelled: a dependency failed")
                elif step.done():
                    outcomes[name] = StepOutcome(step, "ran", _job_seconds(study_id, name))
                    shown.finished(step, "done")
                else:
                    _, err = log_paths(study_id, job_id)
                    failed.append(f"study step '{name}' (job {job_id}) failed, log {err}")
                    shown.finished(step, "failed")
        if active:
            time.sleep(POLL_SECONDS)
    return failed


def _job_seconds(study_id: str, name: str) -> float:
    """The wall seconds the job logged for a step (0 if it logged none)."""
    from runner.pipeline import read_step_log

    events = [e for e in read_step_log(study_id) if e["step"] == name and e["event"] == "done"]
    return events[-1]["seconds"] if events else 0.0
