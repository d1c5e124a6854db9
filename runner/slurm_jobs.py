"""The Slurm jobs of a study's steps: their persisted ids and what `squeue` says of them.

Used by: xstage run STUDY --executor slurm (never submits a step twice while its job is queued
or running) and xstage status STUDY. Job ids live in `<data>/studies/<study>/slurm/jobs.json`
(written temp + rename after every submission); each job also carries a tag in its Slurm
comment, so a job whose id was never written (the submitter killed right after `sbatch`) is
still found by `squeue` and adopted. There is no accounting database on every cluster (DESIGN
§8: none here), so nothing reads `sacct`: a job `squeue` no longer lists has ended, and the
step's own outputs (its `done()`) say whether it succeeded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from xstage import lake

# squeue %T states of a job that has not ended, split into waiting and working.
QUEUED_STATES = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"}
RUNNING_STATES = {
    "RUNNING",
    "CONFIGURING",
    "COMPLETING",
    "SUSPENDED",
    "STOPPED",
    "SIGNALING",
    "STAGE_OUT",
    "RESIZING",
}
# The pending reason of a job whose `afterok` dependency failed: it would wait forever.
NEVER_REASON = "DependencyNeverSatisfied"
SQUEUE_FORMAT = "%i|%T|%r|%k"


class SlurmError(RuntimeError):
    """A Slurm command failed or is missing; the message says which and what to do."""


def slurm_dir(study_id: str) -> Path:
    """`<data>/studies/<study>/slurm/`: job ids, submission lock and job logs."""
    return lake.study_dir(study_id) / "slurm"


def logs_dir(study_id: str) -> Path:
    """Where each job's submitit files go: `<job id>_0_log.out/.err`, `_result.pkl`."""
    return slurm_dir(study_id) / "logs"


def log_paths(study_id: str, job_id: str) -> tuple[Path, Path]:
    """A job's stdout and stderr files (submitit's naming)."""
    folder = logs_dir(study_id)
    return folder / f"{job_id}_0_log.out", folder / f"{job_id}_0_log.err"


def data_key(root: Path | None = None) -> str:
    """A short digest of the data dir, so two checkouts' jobs on one cluster never mix."""
    return hashlib.sha256(str(lake.data_dir(root)).encode()).hexdigest()[:10]


def tag_prefix(study_id: str) -> str:
    """The start of every job comment of this study in this data dir."""
    return f"xstage:{data_key()}:{study_id}:"


def job_tag(study_id: str, step_name: str) -> str:
    """The job comment naming one step (no spaces: sbatch directives are shell words)."""
    return tag_prefix(study_id) + step_name.replace(" ", "/")


def step_of_tag(study_id: str, tag: str) -> str | None:
    """The step name a job comment names, or None if it is not this study's."""
    prefix = tag_prefix(study_id)
    return tag[len(prefix) :].replace("/", " ") if tag.startswith(prefix) else None


@dataclass(frozen=True)
class LiveJob:
    """One job as `squeue -t all` lists it."""

    job_id: str
    state: str
    reason: str
    tag: str


def squeue_jobs(study_id: str) -> dict[str, LiveJob]:
    """Every job of this study the controller still knows (queued, running, recently ended)."""
    if shutil.which("squeue") is None:
        raise SlurmError("squeue not found: run on a Slurm login node (or set SLURM_CONF)")
    args = ["squeue", "-h", "-t", "all", "-o", SQUEUE_FORMAT]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise SlurmError(f"squeue failed: {done.stderr.strip() or done.stdout.strip()}")
    jobs = {}
    for line in done.stdout.splitlines():
        job_id, state, reason, tag = ([*line.split("|", 3), "", "", ""])[:4]
        if step_of_tag(study_id, tag) is not None:
            jobs[job_id.strip()] = LiveJob(job_id.strip(), state.strip(), reason.strip(), tag)
    return jobs


def cancel(job_ids: list[str]) -> None:
    """`scancel` these jobs (ones whose dependency failed, before they are resubmitted)."""
    if job_ids:
        subprocess.run(["scancel", *job_ids], capture_output=True, timeout=60, check=False)


@dataclass
class JobRegistry:
    """Every job id submitted for each step of one study, oldest first, kept on disk."""

    study_id: str
    jobs: dict[str, list[str]] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        """`<data>/studies/<study>/slurm/jobs.json`."""
        return slurm_dir(self.study_id) / "jobs.json"

    @classmethod
    def load(cls, study_id: str) -> JobRegistry:
        """The registry on disk, or an empty one."""
        registry = cls(study_id)
        if registry.path.is_file():
            registry.jobs = json.loads(registry.path.read_text(encoding="utf-8"))["jobs"]
        return registry

    def save(self) -> None:
        """Write the registry atomically (temp file, then rename)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"jobs": self.jobs}, indent=1, sort_keys=True), "utf-8")
        os.replace(tmp, self.path)

    def record(self, step_name: str, job_id: str) -> None:
        """Add one submission of a step and save."""
        ids = self.jobs.setdefault(step_name, [])
        if job_id not in ids:
            ids.append(job_id)
            ids.sort(key=int)
        self.save()

    def latest(self, step_name: str) -> str | None:
        """The newest job id of a step, or None if it was never submitted."""
        ids = self.jobs.get(step_name)
        return ids[-1] if ids else None

    def adopt(self, live: dict[str, LiveJob]) -> None:
        """Record jobs that carry this study's tag but whose ids were never written down."""
        for job in live.values():
            step = step_of_tag(self.study_id, job.tag)
            if step is not None and job.job_id not in self.jobs.get(step, []):
                self.record(step, job.job_id)


def job_state(job_id: str | None, live: dict[str, LiveJob]) -> str:
    """`queued`, `running`, `blocked` (its dependency failed), `ended` or `none` (never sent)."""
    if job_id is None:
        return "none"
    job = live.get(job_id)
    if job is None:
        return "ended"
    if job.state in QUEUED_STATES:
        return "blocked" if job.reason == NEVER_REASON else "queued"
    return "running" if job.state in RUNNING_STATES else "ended"
