"""DuckDB resources of `xstage build` come from configs/warehouse, overridable per run."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from warehouse.dbt_plugin import Plugin
from warehouse.settings import duckdb_settings, warehouse_config
from xstage.config import ConfigError


def _config_dir(tmp_path: Path, text: str | None) -> Path:
    configs = tmp_path / "configs"
    (configs / "warehouse").mkdir(parents=True)
    if text is not None:
        (configs / "warehouse" / "default.yaml").write_text(text)
    return configs


def test_defaults_without_a_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSTAGE_CONFIG_DIR", str(_config_dir(tmp_path, None)))
    config = warehouse_config()
    assert (config.memory_limit, config.threads, config.dbt_threads) == ("50%", None, 4)
    settings = duckdb_settings(tmp_path / "data", config)
    assert settings["temp_directory"] == str(tmp_path / "data" / "cache" / "duckdb_tmp")
    assert Path(settings["temp_directory"]).is_dir()
    assert "threads" not in settings


def test_the_shipped_config_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XSTAGE_CONFIG_DIR", raising=False)
    assert warehouse_config().memory_limit == "50%"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configs = _config_dir(tmp_path, "id: default\nmemory_limit: 3GiB\nthreads: 1\n")
    monkeypatch.setenv("XSTAGE_CONFIG_DIR", str(configs))
    assert (warehouse_config().memory_limit, warehouse_config().threads) == ("3GiB", 1)
    monkeypatch.setenv("XSTAGE_DUCKDB_MEMORY_LIMIT", "700MiB")
    monkeypatch.setenv("XSTAGE_DUCKDB_TEMP_DIRECTORY", str(tmp_path / "spill"))
    config = warehouse_config()
    assert (config.memory_limit, config.threads) == ("700MiB", 1)
    assert duckdb_settings(tmp_path, config)["temp_directory"] == str(tmp_path / "spill")


def test_bad_values_name_the_file_or_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configs = _config_dir(tmp_path, "id: default\nmemory_limit: lots\n")
    monkeypatch.setenv("XSTAGE_CONFIG_DIR", str(configs))
    with pytest.raises(ConfigError, match=r"default\.yaml: field 'memory_limit'"):
        warehouse_config()
    (configs / "warehouse" / "default.yaml").write_text("id: default\n")
    monkeypatch.setenv("XSTAGE_DUCKDB_THREADS", "zero")
    with pytest.raises(ConfigError, match=r"XSTAGE_DUCKDB_THREADS.*field 'threads'"):
        warehouse_config()


def test_the_dbt_plugin_applies_them_to_the_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configs = _config_dir(tmp_path, "id: default\nmemory_limit: 1GiB\nthreads: 1\n")
    monkeypatch.setenv("XSTAGE_CONFIG_DIR", str(configs))
    monkeypatch.setenv("XSTAGE_DATA_DIR", str(tmp_path / "data"))
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        Plugin("warehouse.dbt_plugin", {}).configure_connection(con)
        row = con.execute(
            "select current_setting('memory_limit'), current_setting('threads'),"
            " current_setting('temp_directory'), current_setting('preserve_insertion_order'),"
            " xstage_r_pvalue(0.5, 12)"
        ).fetchone()
    assert row[:4] == ("1.0 GiB", 1, str(tmp_path / "data" / "cache" / "duckdb_tmp"), False)
    assert row[4] == pytest.approx(0.0978546142578125, abs=1e-12)  # 2 t.sf(r sqrt(10/(1-r²)), 10)
