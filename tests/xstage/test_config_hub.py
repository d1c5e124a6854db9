"""Config hub (litgpt test_config_hub): every YAML under configs/ validates; broken ones are named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runner.cli import app
from runner.study_config import CONFIG_KINDS
from xstage.config import ConfigError, config_dir, kind_class, list_ids, load_file

CONFIG_ROOT = Path(__file__).resolve().parents[2] / "configs"
ALL_CONFIGS = sorted(CONFIG_ROOT.rglob("*.yaml"))
STUDY_BENCHMARKS = {
    "hellaswag", "piqa", "copa", "winogrande", "social_iqa", "commonsense_qa", "boolq",
    "arc_easy", "arc_challenge", "sciq", "openbookqa", "mnli", "qnli", "rte", "cb", "qqp",
    "wic", "wsc", "multirc", "mrpc",
}  # fmt: skip
N_CHOICES = {
    "hellaswag": 4, "piqa": 2, "copa": 2, "winogrande": 2, "social_iqa": 3, "commonsense_qa": 5,
    "boolq": 2, "arc_easy": 4, "arc_challenge": 4, "sciq": 4, "openbookqa": 4, "mnli": 3,
    "qnli": 2, "rte": 2, "cb": 3, "qqp": 2, "wic": 2, "wsc": 2, "multirc": 2, "mrpc": 2,
}  # fmt: skip
CATEGORIES = {
    "commonsense": {
        "hellaswag",
        "piqa",
        "copa",
        "winogrande",
        "social_iqa",
        "commonsense_qa",
        "boolq",
    },
    "science": {"arc_easy", "arc_challenge", "sciq", "openbookqa"},
    "nli": {"mnli", "qnli", "rte", "cb"},
    "semantic": {"qqp", "wic", "wsc", "multirc", "mrpc"},
}


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_config_validates(path: Path):
    kind = path.relative_to(CONFIG_ROOT).parts[0]
    config = load_file(path, kind_class(kind, CONFIG_KINDS))
    assert getattr(config, "id", None) or getattr(config, "scale", None)


def test_the_twenty_study_benchmarks_exist_with_design_categories():
    from xstage.config import load_config

    assert set(list_ids("benchmarks")) >= STUDY_BENCHMARKS
    for category, members in CATEGORIES.items():
        for benchmark in members:
            config = load_config("benchmarks", benchmark)
            assert config.category == category, benchmark
            assert config.chance_accuracy == pytest.approx(1 / N_CHOICES[benchmark], abs=1e-6)
    assumed = {
        b for b in STUDY_BENCHMARKS if load_config("benchmarks", b).in_reference_study == "assumed"
    }
    assert assumed == {"openbookqa", "cb", "mrpc"}


def test_every_benchmark_converter_and_corpus_transform_is_registered():
    from ingest.benchmarks import CONVERTERS
    from ingest.corpora import TRANSFORMS
    from xstage.config import load_config

    for benchmark in list_ids("benchmarks"):
        assert load_config("benchmarks", benchmark).converter in CONVERTERS
    for corpus in list_ids("corpora"):
        transform = load_config("corpora", corpus).transform
        assert transform is None or transform in TRANSFORMS


def write_broken_tree(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "configs"
    shutil.copytree(config_dir() / "benchmarks", root / "benchmarks")
    (root / "benchmarks" / "piqa.yaml").write_text(text)
    return root


def test_validate_names_file_and_field_of_a_broken_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    broken = (
        (CONFIG_ROOT / "benchmarks" / "piqa.yaml")
        .read_text()
        .replace("chance_accuracy: 0.5", "chance_accuracy: 1.5")
    )
    root = write_broken_tree(tmp_path, broken)
    monkeypatch.setenv("XSTAGE_CONFIG_DIR", str(root))
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 1
    bad = root / "benchmarks" / "piqa.yaml"
    assert f"{bad}: field 'chance_accuracy'" in result.output.replace("\n", "")
    assert (
        f"{len(list_ids('benchmarks')) - 1}/{len(list_ids('benchmarks'))} configs valid"
        in result.output
    )


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda text: text.replace("category: commonsense", "category: vibes"), "category"),
        (lambda text: text.replace("formulation: rc", "formulation: rc\ncolour: blue"), "colour"),
        (lambda text: text.replace("id: piqa", "id: piqa_two"), "id"),
        (lambda text: text.replace("  split: validation\n", ""), "source.split"),
    ],
)
def test_broken_benchmark_yaml_errors_name_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit, field
):
    root = write_broken_tree(tmp_path, edit((CONFIG_ROOT / "benchmarks" / "piqa.yaml").read_text()))
    monkeypatch.setenv("XSTAGE_CONFIG_DIR", str(root))
    with pytest.raises(ConfigError, match=rf"piqa.yaml: field '{field}'"):
        load_file(root / "benchmarks" / "piqa.yaml", kind_class("benchmarks"))
