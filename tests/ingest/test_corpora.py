"""Corpora -> documents: the demo web filters on hand-made documents and on the 300 C4 docs,
bounded parts, schema contract, derived corpora and idempotent reruns.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.corpora import ingest_corpus
from ingest.rejects import InvalidDataError
from ingest.web_filters import (
    edu_filter,
    edu_score,
    minimal_filter,
    minimal_reasons,
    quality_filter,
    quality_score,
)
from tests.ingest.conftest import write_mirror_file
from xstage import lake
from xstage.config import load_config
from xstage.schemas import DOCUMENTS

PROSE = (
    "The river rises in the northern hills and flows south for about two hundred kilometres "
    "before it reaches the sea. Along the way it passes through three towns, each of which grew "
    "around an old bridge. Farmers in the valley have used its water for irrigation for many "
    "centuries, and the fish that live in it are an important part of the local diet. "
)
EDUCATIONAL = (
    "Photosynthesis is the process by which plants use energy from sunlight to make sugar. "
    "Students often learn this in school because it explains where the energy in food comes "
    "from. For example, the cells in a leaf contain chloroplasts, which means they can capture "
    "light. Scientists study this process to understand how ecosystems store energy, and the "
    "theory is supported by evidence from many experiments. In order to test it, researchers "
    "measure how much oxygen a plant releases. This means the concept can be checked with data, "
    "and the method is simple enough for a school lesson on science and the history of biology. "
) * 2
SALES = (
    "Buy now and save! Our store offers the best deals on shoes, with free shipping on every "
    "order over $50. Call us today or visit the shop to see our discount prices. We have sale "
    "items for all customers, and our coupon codes give you even cheaper prices at checkout. "
) * 3
QA = (
    "Why does the sky look blue? Because sunlight is scattered by the molecules in the air, and "
    "blue light is scattered more than red light. How does that work? The shorter the wavelength, "
    "the more it is scattered, which means blue light reaches your eyes from every direction. "
    "What about sunsets? When the sun is low, light travels through more air, so the blue is "
    "scattered away and the red and orange light is what remains. This is known as Rayleigh "
    "scattering, and it explains why the sky changes colour during the day."
)


def test_minimal_filter_keeps_prose_and_drops_junk():
    assert minimal_filter(PROSE) == PROSE
    assert minimal_reasons("Too short to be a document.") == ["6 words outside 50..100000"]
    bullets = "\n".join(f"- item number {n} with several words in it" for n in range(20))
    assert "> 90% of lines are bullets" in minimal_reasons(bullets)
    repeated = "\n".join(["Subscribe to our newsletter for the latest updates today."] * 10)
    assert "> 30% duplicate lines" in minimal_reasons(repeated)
    numbers = " ".join(str(n) for n in range(80))
    assert "< 80% of words contain a letter" in minimal_reasons(numbers)


def test_edu_filter_scores_educational_text_above_commerce():
    assert edu_score(EDUCATIONAL) == 5
    assert edu_filter(EDUCATIONAL) == EDUCATIONAL
    assert edu_score(SALES) < 3
    assert edu_filter(SALES) is None
    assert edu_score(PROSE) < 3, "plain narrative prose is not educational enough"


def test_quality_filter_prefers_explanatory_qa_over_commerce():
    assert quality_score(QA) > 0.9
    assert quality_filter(QA) == QA
    assert quality_score(SALES) < 0.05
    assert quality_filter(SALES) is None
    assert quality_filter("Why? How? What? Which?") is None, "the minimal heuristics run first"


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpora_lake")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XSTAGE_DATA_DIR", str(root))
        for corpus in (
            "demo_web_crawl",
            "demo_web_minimal",
            "demo_web_edu",
            "demo_web_quality",
            "demo_code",
            "demo_curated",
        ):
            ingest_corpus(load_config("corpora", corpus), part_max_docs=100)
    return root


def docs(root: Path, corpus: str) -> list[dict]:
    return pq.read_table(lake.documents_dir(corpus, root)).to_pylist()


def test_demo_web_filters_keep_meaningfully_different_subsets(demo_lake: Path):
    ids = {
        corpus: {doc["doc_id"] for doc in docs(demo_lake, corpus)}
        for corpus in ("demo_web_crawl", "demo_web_minimal", "demo_web_edu", "demo_web_quality")
    }
    sizes = {corpus: len(value) for corpus, value in ids.items()}
    assert sizes == {
        "demo_web_crawl": 300,
        "demo_web_minimal": 270,
        "demo_web_edu": 149,
        "demo_web_quality": 84,
    }
    for corpus in ("demo_web_minimal", "demo_web_edu", "demo_web_quality"):
        assert ids[corpus] <= ids["demo_web_crawl"]
    assert len(ids["demo_web_edu"] & ids["demo_web_quality"]) == 54
    assert ids["demo_web_edu"] - ids["demo_web_quality"]
    assert ids["demo_web_quality"] - ids["demo_web_edu"]


def test_documents_contract_parts_and_hashes(demo_lake: Path):
    crawl = lake.documents_dir("demo_web_crawl", demo_lake)
    parts = sorted(crawl.glob("*.parquet"))
    assert parts == [lake.documents_part_path("demo_web_crawl", n, demo_lake) for n in range(3)]
    assert [pq.read_metadata(part).num_rows for part in parts] == [100, 100, 100]
    for part in parts:
        assert pq.read_schema(part).equals(DOCUMENTS)
    for doc in docs(demo_lake, "demo_web_crawl")[:50]:
        assert doc["n_chars"] == len(doc["text"])
        assert doc["doc_hash"] == hashlib.sha256(doc["text"].encode()).hexdigest()
        assert doc["source"] == "allenai/c4:en:validation"
    assert docs(demo_lake, "demo_web_crawl")[0]["doc_id"] == "validation-000000"
    assert sum(doc["n_chars"] for doc in docs(demo_lake, "demo_web_crawl")) == 737161


def test_code_and_curated_corpora_keep_their_own_ids(demo_lake: Path, hf_mirror: Path):
    code = docs(demo_lake, "demo_code")
    assert len(code) == 164
    assert code[0]["doc_id"] == "HumanEval/0"
    raw = (
        pq.read_table(hf_mirror / "openai__openai_humaneval" / "default" / "test.parquet")
        .slice(0, 1)
        .to_pylist()[0]
    )
    assert code[0]["text"] == raw["prompt"] + raw["canonical_solution"]
    compile(code[0]["text"], "HumanEval/0", "exec")
    curated = docs(demo_lake, "demo_curated")
    assert len(curated) == 30
    assert curated[0]["doc_id"] == "20231101.en-train-00000"


def test_rerun_is_a_noop_and_max_docs_bounds_the_output(
    demo_lake: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("XSTAGE_DATA_DIR", str(demo_lake))
    part = lake.documents_part_path("demo_web_edu", 0)
    before = part.stat().st_mtime_ns
    result = ingest_corpus(load_config("corpora", "demo_web_edu"))
    assert (result.status, result.n_rows) == ("skipped", 149)
    assert part.stat().st_mtime_ns == before
    result = ingest_corpus(load_config("corpora", "demo_web_edu"), max_docs=10, overwrite=True)
    assert (result.status, result.n_rows) == ("written", 10)
    assert [doc["doc_id"] for doc in docs(demo_lake, "demo_web_edu")] == sorted(
        doc_id for doc_id in (d["doc_id"] for d in docs(demo_lake, "demo_web_edu"))
    )
    assert not [
        path
        for path in lake.documents_dir("demo_web_edu").parent.iterdir()
        if path.name.startswith(".")
    ]


def test_empty_and_non_text_documents_are_rejected(temp_mirror: Path):
    table = pa.table(
        {
            "text": ["a real document", "", "another one"],
            "timestamp": ["", "", ""],
            "url": ["", "", ""],
        }
    )
    write_mirror_file(temp_mirror, "allenai/c4", "en", "validation", table)
    config = load_config("corpora", "demo_web_crawl")
    with pytest.raises(
        InvalidDataError,
        match=r"allenai/c4 \(config en\) split validation row 1 field 'text': empty text",
    ):
        ingest_corpus(config)
    assert not lake.documents_dir("demo_web_crawl").exists()
    result = ingest_corpus(config, skip_invalid=True)
    assert (result.n_rows, result.n_rejected) == (2, 1)
    assert lake.rejects_path(lake.documents_part_path("demo_web_crawl", 0)).is_file()


def test_cli_ingest_corpus_and_a_corpus_missing_from_the_mirror():
    from typer.testing import CliRunner

    from runner.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["ingest", "corpus", "demo_curated"])
    assert result.exit_code == 0, result.output
    assert "demo_curated" in result.output
    assert pq.read_metadata(lake.documents_part_path("demo_curated", 0)).num_rows == 30
    missing = runner.invoke(app, ["ingest", "corpus", "refinedweb", "--max-docs", "5"])
    assert missing.exit_code == 1
    assert "tiiuae/falcon-refinedweb:default:train: not in the mirror" in missing.output
