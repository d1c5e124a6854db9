"""Tiny harness files for the importer tests: lm-eval sample lines and lighteval details."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

METABENCH = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "external"
    / ("metabench_pythia14m_lm_eval_samples")
)
TOY_MAP = Path(__file__).with_name("toy_task_map.yaml")
STAMP = "2024-11-26T10-50-23.349203"


def lm_eval_line(
    doc_id: int, question: str, answers: list[str], gold: int, lls: list[float]
) -> dict:
    """One v0.4 sample line of a cloze multiple-choice task, as lm-eval logs it (strings)."""
    context = f"Question: {question}\nAnswer:"
    best = max(range(len(lls)), key=lambda k: (lls[k], -k))
    return {
        "doc_id": doc_id,
        "doc": {"question": question, "choices": answers, "gold": gold},
        "target": str(gold),
        "arguments": {
            f"gen_args_{k}": {"arg_0": context, "arg_1": f" {answer}"}
            for k, answer in enumerate(answers)
        },
        "resps": [[[str(ll), "False"]] for ll in lls],
        "filtered_resps": [[str(ll), "False"] for ll in lls],
        "acc": 1.0 if best == gold else 0.0,
    }


def write_samples(folder: Path, task: str, lines: list[dict | str]) -> Path:
    """Write samples_<task>_<stamp>.jsonl; str entries are written verbatim (bad lines)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"samples_{task}_{STAMP}.jsonl"
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def toy_lines(n: int = 4) -> list[dict]:
    """n items, 3 choices, gold = item % 3; the model picks choice 0 (so acc = 1 on items 0, 3)."""
    return [
        lm_eval_line(
            i, f"What is {i} plus one?", [f"{i + d}" for d in range(3)], i % 3, [-1.0, -2.0, -3.0]
        )
        for i in range(n)
    ]


@pytest.fixture
def metabench_dir() -> Path:
    """The real pythia-14m lm-eval sample files (../shared/data/external)."""
    assert METABENCH.is_dir(), f"{METABENCH} is missing"
    return METABENCH
