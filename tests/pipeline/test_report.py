"""`xstage report`: built from the warehouse helper's generated lake, opened in real Chromium."""

import struct
from pathlib import Path

import pytest

from warehouse.report import category_summary, write_report
from xstage import lake

pytestmark = [pytest.mark.slow, pytest.mark.dbt]

FIGURES = {
    "figure1_cross_stage_transfer.png",
    "coherence_accuracy.png",
    "coherence_confidence.png",
    "confidence_structure.png",
    "alignment.png",
    "accuracy_by_mixture.png",
    "reliability.png",
}
MARTS_NAMED = [
    "marts.fct_category_transfer",
    "marts.fct_cross_stage_transfer",
    "marts.fct_intra_category_coherence",
    "marts.fct_benchmark_coherence",
    "marts.fct_benchmark_pair_correlations",
    "marts.fct_confidence_structure",
    "marts.fct_alignment",
    "marts.fct_alignment_persistence",
    "marts.fct_benchmark_scores",
    "marts.fct_calibration_bins",
    "marts.fct_item_stage_flips",
    "marts.fct_mixture_effects",
    "marts.fct_web_source_contrasts",
    "marts.fct_ranking_agreement",
]


@pytest.fixture(scope="module")
def built_warehouse(synthetic_warehouse):
    """The run's shared generated lake (2 scales x 6 mixtures x 2 stages x 12 benchmarks), built
    once for all the files that read it: (data dir, config dir)."""
    return synthetic_warehouse.root, synthetic_warehouse.lake.config_dir


@pytest.fixture(scope="module")
def report_data_dir(tmp_path_factory) -> Path:
    """Where this module's report goes: its own data dir, not the shared lake's."""
    return tmp_path_factory.mktemp("report") / "data"


@pytest.fixture(scope="module")
def report(built_warehouse, report_data_dir):
    """The report of the shared warehouse, rendered once for the tests that read it."""
    data, configs = built_warehouse
    warehouse = lake.warehouse_path(data)
    before = warehouse.stat().st_mtime_ns
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XSTAGE_CONFIG_DIR", str(configs))
        patch.setenv("XSTAGE_DATA_DIR", str(report_data_dir))
        index = write_report("synthetic", warehouse)
    assert warehouse.stat().st_mtime_ns == before, "the report must not write the warehouse"
    return index


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def test_report_writes_every_figure_beside_the_page(report, report_data_dir):
    assert report == lake.reports_dir("synthetic", report_data_dir) / "index.html"
    pngs = {path.name for path in report.parent.glob("*.png")}
    assert pngs == FIGURES
    for name in FIGURES:
        width, height = png_size(report.parent / name)
        assert width >= 300
        assert height >= 200
    html = report.read_text()
    for name in FIGURES:
        assert f'src="{name}"' in html
    for mart in MARTS_NAMED:
        assert mart in html, f"the page never names {mart}"
    assert "is not in the warehouse" not in html
    assert "majority_baseline</th>" in html


@pytest.mark.browser
def test_report_opens_in_chromium_with_every_figure_loaded(open_in_chromium, report):
    page = open_in_chromium(report)
    assert page.errors == []
    assert page.title == "xstage report: synthetic"
    assert {image["src"] for image in page.images} == FIGURES
    for image in page.images:
        assert image["complete"], image
        assert image["natural_width"] > 0, image
        assert image["natural_height"] > 0, image
        assert image["width"] >= 300, image
    width, height = png_size(page.screenshot)
    assert width == 1280
    assert height > 3000  # the whole page, not just the first screen
    assert page.screenshot.stat().st_size > 100_000
    assert "Cross-stage transfer (the paper's Figure 1)" in page.text
    assert "above chance" in page.text


def test_summary_rows_come_from_category_transfer(built_warehouse):
    data, _ = built_warehouse
    rows = category_summary(lake.warehouse_path(data))
    assert {row["scale"] for row in rows} == {"tiny", "small"}
    assert {row["metric"] for row in rows} == {"accuracy", "confidence"}
    assert {"all", "commonsense", "science", "nli", "semantic"} <= {row["category"] for row in rows}
    assert all(row["mean_r"] is None or -1 <= row["mean_r"] <= 1 for row in rows)
