"""Map harness task names to xstage benchmark ids (xstage import lm-eval|lighteval --task-map).

Imported items keep their own benchmark id (the task name) unless the map says otherwise
(DESIGN §10). A task name that is not a slug and has no map entry is an "unknown task" error.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import ValidationError, field_validator

from xstage.config import ConfigError, StrictModel, config_dir, load_yaml, parse_config
from xstage.ids import SLUG_PATTERN, check_slug

DEFAULT_TASK_MAP = Path(__file__).with_name("task_map.yaml")
UNCATEGORIZED = "uncategorized"


class TaskSpec(StrictModel):
    """How one harness task becomes one xstage benchmark."""

    benchmark: str | None = None
    """xstage benchmark id; None keeps the task name (which must then be a slug)."""
    category: str | None = None
    """Category id; None takes configs/benchmarks/<id>.yaml's, else `uncategorized`."""
    split: str = "unknown"
    """Dataset split the harness evaluated (sample logs do not record it)."""
    item_id_field: str | None = None
    """Dotted path into the sample's `doc` giving a stable item id; None uses doc_id."""
    choices_field: str | None = None
    """Dotted path into `doc` giving the answer texts (mc tasks score letters, not texts)."""
    gold_field: str | None = None
    """Dotted path into `doc` giving the gold index, for tasks whose `target` is not an index."""
    gold_offset: int = 0
    """Added to the gold_field value (WinoGrande's `answer` is 1-based: -1)."""

    @field_validator("benchmark", "category")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        return None if value is None else check_slug(value, "benchmark/category")


class TaskMap(StrictModel):
    """A task map file: `tasks: {<harness task name>: TaskSpec}`."""

    tasks: dict[str, TaskSpec]
    """Harness task name (lm-eval `arc_easy`, lighteval `lighteval|arc:easy`) -> spec."""


def load_task_map(path: Path | None = None) -> dict[str, TaskSpec]:
    """The default map, with the entries of `path` (if given) replacing same-named tasks."""
    tasks = dict(_read(DEFAULT_TASK_MAP).tasks)
    if path is not None:
        tasks.update(_read(path).tasks)
    return tasks


def _read(path: Path) -> TaskMap:
    try:
        return parse_config(load_yaml(path), TaskMap, path)
    except ValidationError as exc:  # pragma: no cover - parse_config converts these
        raise ConfigError(f"{path}: {exc}") from None


def resolve_task(task: str, tasks: dict[str, TaskSpec]) -> tuple[str, TaskSpec]:
    """(benchmark id, spec) for a harness task; raise ValueError for an unknown task."""
    spec = tasks.get(task) or tasks.get(_strip_fewshot(task))
    if spec is None and (config_dir() / "benchmarks" / f"{task}.yaml").is_file():
        spec = TaskSpec()  # the task name is a configured benchmark id
    if spec is None:
        raise ValueError(
            f"unknown task {task!r}: no task map entry and no configs/benchmarks/{task}.yaml; "
            f"add to a --task-map file: `tasks: {{{task!r}: {{benchmark: <id>, category: <id>, "
            f"split: <split>}}}}` (format: docs/importers.md)"
        )
    benchmark = spec.benchmark or task
    if not SLUG_PATTERN.fullmatch(benchmark):
        raise ValueError(
            f"task {task!r}: benchmark id {benchmark!r} is not a slug; give `benchmark: <id>` "
            f"for it in a --task-map file (format: docs/importers.md)"
        )
    return benchmark, spec


def _strip_fewshot(task: str) -> str:
    """Lighteval names end in `|<n_fewshot>` (`leaderboard|arc:challenge|25`); maps omit it."""
    return re.sub(r"\|\d+$", "", task)


def resolve_category(benchmark: str, spec: TaskSpec) -> str:
    """The map's category, else the benchmark config's, else `uncategorized`."""
    if spec.category:
        return spec.category
    path = config_dir() / "benchmarks" / f"{benchmark}.yaml"
    if path.is_file():
        category = load_yaml(path).get("category")
        if isinstance(category, str) and SLUG_PATTERN.match(category):
            return category
    return UNCATEGORIZED
