"""The warehouse's schema has a recorded version: a new state folder starts at the newest, and an
old one is upgraded by the ordered migrations to exactly the tables a new one has, keeping its rows."""

from pathlib import Path

import duckdb
import pytest

from cl_assets.lib import warehouse

OLD_SCHEMA = Path(__file__).resolve().parents[1] / "data" / "schema_before_versions.sql"


def _columns(path: Path) -> dict[str, list[tuple[str, str]]]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'main' order by table_name, column_name"
        ).fetchall()
    found: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        found.setdefault(table, []).append((column, kind))
    return found


def _versions(path: Path) -> list[int]:
    with duckdb.connect(str(path), read_only=True) as con:
        return [v for (v,) in con.execute("select version from schema_version order by version").fetchall()]


def test_a_new_warehouse_starts_at_the_newest_version(tmp_path):
    with warehouse.connect(tmp_path / "new.duckdb") as con:
        assert warehouse.schema_version(con) == len(warehouse.migrations())
    assert _versions(tmp_path / "new.duckdb") == [len(warehouse.migrations())]


def test_an_old_warehouse_is_upgraded_to_the_tables_a_new_one_has(tmp_path):
    old = tmp_path / "old.duckdb"
    with duckdb.connect(str(old)) as con:
        con.execute(OLD_SCHEMA.read_text())
        con.execute("insert into training_set_versions (version, trigger_id) values (1, 'bootstrap:1')")
        con.execute("insert into batch_performance (batch_id, accuracy) values ('b1', 0.7)")
    before = _columns(old)
    with warehouse.connect(tmp_path / "new.duckdb"):
        pass
    with warehouse.connect(old) as con:
        assert warehouse.schema_version(con) == len(warehouse.migrations())
        kept = con.execute("select version, trigger_id, window_floor from training_set_versions").fetchall()
        assert kept == [(1, "bootstrap:1", None)]
        assert con.execute("select accuracy, estimated_accuracy from batch_performance").fetchall() == [(0.7, None)]
    assert before != _columns(tmp_path / "new.duckdb")  # the old schema really lacked columns
    assert _columns(old) == _columns(tmp_path / "new.duckdb")
    assert _versions(old) == list(range(1, len(warehouse.migrations()) + 1))


def test_an_upgraded_warehouse_is_not_upgraded_again(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(OLD_SCHEMA.read_text())
    with duckdb.connect(str(path)) as con:
        assert warehouse.upgrade(con) == list(range(1, len(warehouse.migrations()) + 1))
        assert warehouse.upgrade(con) == []
    assert _versions(path) == list(range(1, len(warehouse.migrations()) + 1))


def test_a_warehouse_newer_than_the_code_is_refused(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        warehouse.upgrade(con)
        con.execute("insert into schema_version values (?, current_timestamp)", [len(warehouse.migrations()) + 1])
        with pytest.raises(RuntimeError, match="newer than this code"):
            warehouse.upgrade(con)


def test_migrations_are_numbered_without_gaps(tmp_path, monkeypatch):
    (tmp_path / "001_first.sql").write_text("select 1")
    (tmp_path / "003_third.sql").write_text("select 3")
    monkeypatch.setattr(warehouse, "MIGRATIONS", tmp_path)
    warehouse.migrations.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="without gaps"):
            warehouse.migrations()
    finally:
        monkeypatch.undo()
        warehouse.migrations.cache_clear()
