from pathlib import Path

import pytest
import yaml

from runner.study_config import CONFIG_KINDS, StudyConfig, load_study
from xstage.config import ConfigError, config_dir, validate_tree
from xstage.ids import Stage

STUDIES = config_dir() / "studies"


def write_study(tmp_path: Path, name: str = "mini", **changes) -> Path:
    data = yaml.safe_load((STUDIES / "demo.yaml").read_text())
    data |= {"id": name, **changes}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("study", ["demo", "paper"])
def test_shipped_studies_validate(study):
    config, path = load_study(study)
    assert isinstance(config, StudyConfig)
    assert path == STUDIES / f"{study}.yaml"
    assert config.stages == [Stage.PRETRAIN, Stage.SFT]
    assert len(config.mixtures) == 9


def test_study_loads_by_path_and_by_id_alike():
    by_id, _ = load_study("demo")
    by_path, _ = load_study(str(STUDIES / "demo.yaml"))
    assert by_id == by_path


def test_paper_study_is_the_reference_grid():
    paper, _ = load_study("paper")
    assert paper.scales == ["240M", "1B"]
    assert len(paper.benchmarks) == 20
    assert paper.chat == ["tulu_v2_mix"]
    assert paper.scoring.backend == "vllm"


def test_validate_tree_covers_studies():
    results = {
        path.name: error
        for path, error in validate_tree(kinds=CONFIG_KINDS)
        if "studies" in path.parts
    }
    assert results == {"demo.yaml": None, "paper.yaml": None}


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("mixtures", ["demo_edu_45_35_20", "no_such_mixture"], "no_such_mixture"),
        ("benchmarks", ["piqa", "nope"], "nope"),
        ("scales", ["tiny", "7B"], "7B"),
        ("chat", ["not_a_chat_set"], "not_a_chat_set"),
    ],
)
def test_unknown_reference_names_file_and_field(tmp_path, field, value, expected):
    path = write_study(tmp_path, **{field: value})
    with pytest.raises(ConfigError) as error:
        load_study(str(path))
    message = str(error.value)
    assert str(path) in message
    assert f"field '{field}'" in message
    assert expected in message


def test_bad_recipe_override_names_the_setting(tmp_path):
    recipes = {
        "tiny": {
            "pretrain": "demo_pretrain_tiny",
            "sft": "demo_sft_tiny",
            "pretrain_overrides": {"train_tokens": -5},
        },
        "small": {"pretrain": "demo_pretrain_small", "sft": "demo_sft_small"},
    }
    path = write_study(tmp_path, recipes=recipes)
    with pytest.raises(ConfigError, match="train_tokens"):
        load_study(str(path))


def test_recipe_of_the_wrong_stage_is_rejected(tmp_path):
    recipes = {
        "tiny": {"pretrain": "demo_sft_tiny", "sft": "demo_sft_tiny"},
        "small": {"pretrain": "demo_pretrain_small", "sft": "demo_sft_small"},
    }
    with pytest.raises(ConfigError, match="is a sft recipe, not pretrain"):
        load_study(str(write_study(tmp_path, recipes=recipes)))


def test_every_scale_needs_recipes_and_throughput(tmp_path):
    recipes = {"tiny": {"pretrain": "demo_pretrain_tiny", "sft": "demo_sft_tiny"}}
    with pytest.raises(ConfigError, match="no recipes for scales \\['small'\\]"):
        load_study(str(write_study(tmp_path, recipes=recipes)))


def test_sft_stage_needs_chat_data(tmp_path):
    with pytest.raises(ConfigError, match="chat: stage 'sft' needs at least one chat dataset"):
        load_study(str(write_study(tmp_path, chat=[])))


def test_stem_must_equal_id(tmp_path):
    path = write_study(tmp_path, name="mini")
    renamed = path.rename(tmp_path / "other.yaml")
    with pytest.raises(ConfigError, match="file stem"):
        load_study(str(renamed))


def test_unknown_key_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="field 'n_gpus'"):
        load_study(str(write_study(tmp_path, n_gpus=8)))


def test_item_sample_overrides_must_name_study_benchmarks(tmp_path):
    path = write_study(tmp_path, items_per_benchmark_overrides={"sciq": 10})
    with pytest.raises(ConfigError, match="items_per_benchmark_overrides: \\['sciq'\\]"):
        load_study(str(path))


def test_items_for_prefers_the_override():
    demo, _ = load_study("demo")
    assert demo.items_for("wsc") == 104
    assert demo.items_for("boolq") == demo.items_per_benchmark == 40


def test_the_old_chat_field_name_is_an_error_naming_the_new_one(tmp_path):
    data = yaml.safe_load((STUDIES / "demo.yaml").read_text())
    data["sft_datasets"] = data.pop("chat")
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as error:
        load_study(str(path))
    assert str(error.value) == (
        f"{path}: field 'sft_datasets' is now called 'chat'; rename it in the study file"
    )
