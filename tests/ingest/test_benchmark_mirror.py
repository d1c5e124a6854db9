"""Every mirrored benchmark: MANIFEST row counts and gold distributions, schema contract, text."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.benchmark_items import IngestResult, ingest_benchmark, item_hash
from ingest.sources import mirror_path
from xstage import lake
from xstage.config import list_ids, load_config
from xstage.schemas import BENCHMARK_ITEMS

# (rows, gold_index distribution) per benchmark, from ../shared/hf_mirror/MANIFEST.md.
EXPECTED = {
    "arc_easy": (2376, {0: 565, 1: 594, 2: 632, 3: 585}),
    "arc_easy_mc": (2376, {0: 565, 1: 594, 2: 632, 3: 585}),
    "arc_challenge": (1172, {0: 261, 1: 306, 2: 313, 3: 292}),
    "openbookqa": (500, {0: 138, 1: 126, 2: 132, 3: 104}),
    "piqa": (1838, {0: 910, 1: 928}),
    "hellaswag": (10042, {0: 2515, 1: 2485, 2: 2584, 3: 2458}),
    "winogrande": (1267, {0: 628, 1: 639}),
    "commonsense_qa": (1221, {0: 239, 1: 255, 2: 241, 3: 251, 4: 235}),
    "commonsense_qa_mc": (1221, {0: 239, 1: 255, 2: 241, 3: 251, 4: 235}),
    "social_iqa": (1954, {0: 643, 1: 654, 2: 657}),
    "boolq": (3270, {0: 1237, 1: 2033}),
    "cb": (56, {0: 23, 1: 28, 2: 5}),
    "rte": (277, {0: 146, 1: 131}),
    "wic": (500, {0: 245, 1: 255}),
    "wsc": (104, {0: 66, 1: 38}),
    "copa": (100, {0: 55, 1: 45}),
    "qnli": (5463, {0: 2702, 1: 2761}),
    "mnli": (1000, {0: 373, 1: 311, 2: 316}),
    "qqp": (39, {0: 17, 1: 22}),
}
NOT_MIRRORED = {"sciq", "multirc", "mrpc"}


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ingest every mirrored benchmark once for this module (HellaSwag alone is 10k items)."""
    root = tmp_path_factory.mktemp("mirror_lake")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XSTAGE_DATA_DIR", str(root))
        for benchmark in EXPECTED:
            result = ingest_benchmark(load_config("benchmarks", benchmark))
            assert result.status == "written", result
    return root


def read(lake_root: Path, benchmark: str) -> list[dict]:
    return pq.read_table(lake.benchmark_items_path(benchmark, lake_root)).to_pylist()


def test_every_config_is_either_expected_or_known_missing():
    assert set(list_ids("benchmarks")) == set(EXPECTED) | NOT_MIRRORED


def test_not_mirrored_benchmarks_really_are_absent(hf_mirror: Path):
    for benchmark in NOT_MIRRORED:
        assert not mirror_path(load_config("benchmarks", benchmark).source, hf_mirror).exists()


@pytest.mark.parametrize("benchmark", sorted(EXPECTED))
def test_rows_and_gold_distribution_match_the_manifest(lake_root: Path, benchmark: str):
    rows, gold = EXPECTED[benchmark]
    items = read(lake_root, benchmark)
    assert len(items) == rows
    assert dict(Counter(item["gold_index"] for item in items)) == gold


@pytest.mark.parametrize("benchmark", sorted(EXPECTED))
def test_leaf_matches_schema_path_and_invariants(lake_root: Path, benchmark: str):
    path = lake.benchmark_items_path(benchmark, lake_root)
    assert (
        path
        == lake_root.resolve()
        / "lake"
        / "benchmark_items"
        / f"benchmark={benchmark}"
        / "part-0.parquet"
    )
    assert pq.read_schema(path).equals(BENCHMARK_ITEMS)
    items = read(lake_root, benchmark)
    config = load_config("benchmarks", benchmark)
    assert len({item["item_id"] for item in items}) == len(items)
    for item in items:
        assert item["n_choices"] == len(item["choices"]) >= 2
        assert 0 <= item["gold_index"] < item["n_choices"]
        assert item["category"] == config.category
        assert item["split"] == config.source.split
        assert item["item_hash"] == item_hash(item)


def test_arc_answer_keys_map_to_the_same_index_distribution(lake_root: Path, hf_mirror: Path):
    source = load_config("benchmarks", "arc_easy").source
    raw = pq.read_table(mirror_path(source, hf_mirror)).to_pylist()
    keys = Counter(row["choices"]["label"].index(row["answerKey"]) for row in raw)
    assert dict(keys) == EXPECTED["arc_easy"][1]
    assert Counter(row["answerKey"] for row in raw)["A"] == 565


def test_item_hash_is_sha256_of_normalised_text_as_imports_compute_it(lake_root: Path):
    from importers.samples import item_hash as import_item_hash

    item = read(lake_root, "copa")[0]
    canonical = json.dumps(
        {
            "query": "the man turned on the faucet therefore",
            "choices": ["the toilet filled with water.", "water flowed from the spout."],
            "continuation": "",
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    assert item["item_hash"] == hashlib.sha256(canonical.encode()).hexdigest()
    for benchmark in ("winogrande", "boolq", "hellaswag", "arc_easy_mc"):
        for other in read(lake_root, benchmark)[:20]:
            expected = import_item_hash(other["context"], other["choices"], other["continuation"])
            assert other["item_hash"] == expected, benchmark


def test_templates_render_as_lm_eval(lake_root: Path):
    piqa = read(lake_root, "piqa")[0]
    assert piqa["context"].startswith("Question: ")
    assert piqa["context"].endswith("\nAnswer:")
    assert piqa["item_id"] == "validation-000000"
    hellaswag = read(lake_root, "hellaswag")[0]
    assert hellaswag["context"] == "Roof shingle removal: A man is sitting on a roof. he"
    assert hellaswag["choices"][3] == "starts pulling up roofing on a roof."
    copa = read(lake_root, "copa")[0]
    assert copa["context"] == "The man turned on the faucet therefore"
    assert copa["choices"] == ["the toilet filled with water.", "water flowed from the spout."]
    boolq = read(lake_root, "boolq")[0]
    assert boolq["choices"] == ["no", "yes"]
    assert boolq["context"].endswith("?\nAnswer:")
    mnli = read(lake_root, "mnli")[0]
    assert mnli["choices"] == ["True", "Neither", "False"]
    assert (
        "\nQuestion: There is a bookshop at the gallery . True, False or Neither?"
        in mnli["context"]
    )


def test_winogrande_carries_partial_scoring_fields(lake_root: Path):
    item = read(lake_root, "winogrande")[0]
    assert item["choices"] == ["Sarah", "Maria"]
    assert item["choice_contexts"] == [
        "Sarah was a much better surgeon than Maria so Sarah",
        "Sarah was a much better surgeon than Maria so Maria",
    ]
    assert item["continuation"] == " always got the easier cases."
    assert item["gold_index"] == 1
    others = [i for b in EXPECTED if b != "winogrande" for i in read(lake_root, b)[:3]]
    assert all(i["choice_contexts"] is None and i["continuation"] is None for i in others)


def test_mc_variant_lists_lettered_options_and_ends_with_the_cue(lake_root: Path):
    rc, mc = read(lake_root, "arc_easy")[0], read(lake_root, "arc_easy_mc")[0]
    assert rc["choices"] == mc["choices"]
    assert rc["gold_index"] == mc["gold_index"]
    options = "\n".join(
        f"{letter}. {text}" for letter, text in zip("ABCD", mc["choices"], strict=True)
    )
    question = rc["context"].removesuffix("\nAnswer:")
    assert mc["context"] == f"{question}\n{options}\nAnswer:"
    assert rc["item_hash"] != mc["item_hash"]
    five = read(lake_root, "commonsense_qa_mc")[0]
    assert "\nE. " in five["context"]
    assert five["n_choices"] == 5


def test_wsc_stars_the_pronoun(lake_root: Path):
    item = read(lake_root, "wsc")[0]
    assert "take his claim away from *him*." in item["context"]
    assert 'does the pronoun "*him*" refer to "*anyone*"?' in item["context"]


def test_rerun_without_overwrite_is_a_noop(lake_root: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XSTAGE_DATA_DIR", str(lake_root))
    path = lake.benchmark_items_path("cb")
    before = (path.stat().st_mtime_ns, path.read_bytes())
    result = ingest_benchmark(load_config("benchmarks", "cb"))
    assert result == IngestResult("cb", "skipped", 56, path=path, message="leaf exists")
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before
    assert not [name for name in os.listdir(path.parent) if name != "part-0.parquet"]
