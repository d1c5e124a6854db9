"""The docs stay true: generated tables match their sources, links resolve, the README is short."""

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = REPO_ROOT / "docs"
STAGE_PAGES = [
    "ingest",
    "training",
    "scoring",
    "importers",
    "warehouse",
    "study-runner",
    "cluster",
    "benchmarks",
]


def _tables_module():
    spec = importlib.util.spec_from_file_location("docs_tables", DOCS / "tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_tables_match_configs_and_dbt_models():
    done = subprocess.run(
        [sys.executable, str(DOCS / "tables.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_hand_edited_table_is_reported_then_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    tables = _tables_module()
    for page in ("ingest.md", "warehouse.md"):
        shutil.copy(DOCS / page, tmp_path / page)
    monkeypatch.setattr(tables, "DOCS", tmp_path)
    page = tmp_path / "ingest.md"
    page.write_text(page.read_text().replace("| `piqa` | commonsense", "| `piqa` | science", 1))
    assert tables.stale_tables(write=False) == ["ingest.md: table 'benchmarks'"]
    assert tables.stale_tables(write=True) == ["ingest.md: table 'benchmarks'"]
    assert tables.stale_tables(write=False) == []
    assert page.read_text() == (DOCS / "ingest.md").read_text()


def test_every_mart_is_listed_with_its_grain():
    marts = sorted(path.stem for path in (REPO_ROOT / "dbt_project/models/marts").glob("*.sql"))
    text = (DOCS / "warehouse.md").read_text()
    listed = re.findall(r"^\| `((?:fct|dim)_\w+)` \| (.+?) \|", text, flags=re.M)
    assert sorted(name for name, _ in listed) == marts
    assert all(grain.strip() for _, grain in listed)


def test_readme_is_the_front_door():
    readme = (REPO_ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for command in ("make demo", "make test", "xstage query", "slices.", "dbt build"):
        assert command in readme, command
    for page in [*STAGE_PAGES, "glossary", "contributing"]:
        assert f"(docs/{page}.md)" in readme, page


@pytest.mark.parametrize("page", STAGE_PAGES)
def test_each_stage_page_starts_with_the_files_it_describes(page: str):
    lines = (DOCS / f"{page}.md").read_text().splitlines()
    assert lines[0].startswith("# ")
    assert lines[2] == "Files:"
    files = re.findall(r"`([\w./{},*-]+/[\w./{},*-]*|[\w-]+\.\w+)`", "\n".join(lines[3:12]))
    assert files, f"{page}.md names no files"


def test_relative_links_resolve():
    for path in [REPO_ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text()):
            assert (path.parent / target).exists(), f"{path.name}: broken link {target}"
