import pytest

from xstage.ids import Stage, check_run_id, check_scale, check_slug, check_stage, run_id


@pytest.mark.parametrize("value", ["arc_easy", "a", "web70_code30", "x1_2"])
def test_slugs_accept_snake_case(value):
    assert check_slug(value, "benchmark") == value


@pytest.mark.parametrize("value", ["Arc", "1abc", "arc-easy", "arc.easy", "a b", "../x", "", "a/b"])
def test_slugs_reject_everything_else_naming_field(value):
    with pytest.raises(ValueError, match="benchmark="):
        check_slug(value, "benchmark", "configs/x.yaml")


@pytest.mark.parametrize("value", ["240M", "1B", "7K", "tiny", "small"])
def test_scales(value):
    assert check_scale(value) == value


@pytest.mark.parametrize("value", ["1.5", "1.5.2B", "240m", "1B\n", "huge", "B1"])
def test_bad_scales(value):
    with pytest.raises(ValueError, match="not a scale"):
        check_scale(value)


def test_run_id_composes_and_validates():
    rid = run_id("240M", "web70_code30", 0)
    assert rid == "240M__web70_code30__seed0"
    assert check_run_id(rid) == rid
    assert check_run_id("pythia_14m") == "pythia_14m"
    with pytest.raises(ValueError, match=r"not a slug|not a name"):
        check_run_id("../../etc")
    with pytest.raises(ValueError, match="non-negative"):
        run_id("240M", "web", -1)


def test_stage_enum():
    assert check_stage("sft") is Stage.SFT
    with pytest.raises(ValueError, match="pretrain, sft"):
        check_stage("finetune")
