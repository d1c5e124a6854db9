"""The warehouse DAG reads one way: staging -> intermediate -> marts, only through ref/source.

Parses the dbt manifest of a real build (tests/warehouse/conftest.py's generated lake).
"""

from __future__ import annotations

import json

import pytest

from tests.warehouse.conftest import BuiltLake
from xstage import lake

pytestmark = [pytest.mark.dbt, pytest.mark.slow]

LAYERS = {"staging": 0, "intermediate": 1, "marts": 2}


def _manifest(built_lake: BuiltLake) -> dict:
    path = lake.dbt_work_dir(built_lake.root) / "target" / "manifest.json"
    return json.loads(path.read_text())


def _layer(node: dict) -> int:
    return LAYERS[node["fqn"][1]]


def test_no_model_reads_a_later_layer(built_lake: BuiltLake) -> None:
    """No intermediate model depends on a mart, no staging model on anything but sources."""
    nodes = _manifest(built_lake)["nodes"]
    models = {key: node for key, node in nodes.items() if node["resource_type"] == "model"}
    assert len(models) >= 30
    backwards = [
        (node["name"], models[parent]["name"])
        for node in models.values()
        for parent in node["depends_on"]["nodes"]
        if parent in models and _layer(models[parent]) > _layer(node)
    ]
    assert backwards == []
    intermediate = [n for n in models.values() if _layer(n) == 1]
    assert intermediate, "the project has intermediate models"


def test_no_sql_reads_a_relation_behind_dbts_back(built_lake: BuiltLake) -> None:
    """No model or macro of the project calls adapter.get_relation (a read outside ref/source)."""
    manifest = _manifest(built_lake)
    project = [
        node
        for node in [*manifest["nodes"].values(), *manifest["macros"].values()]
        if node.get("package_name") == "xstage"
    ]
    assert any(node["resource_type"] == "macro" for node in project)
    code = {n["name"]: n.get("raw_code") or n.get("macro_sql") or "" for n in project}
    assert "int_prediction_leaves_resolved" in code
    assert [name for name, sql in code.items() if "get_relation" in sql] == []
