"""Short-lived DuckDB connections and the few write patterns every asset uses.

DuckDB holds an exclusive lock on the file per read-write connection, so connections are
opened per operation and closed at once; nothing here connects at import time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd

QUERIES = Path(__file__).resolve().parent.parent / "queries"
MIGRATIONS = QUERIES / "migrations"  # NNN_what.sql, numbered 1, 2, ... in the order they apply


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


@cache
def query(name: str) -> str:
    """The text of `cl_assets/queries/<name>.sql`."""
    return (QUERIES / f"{name}.sql").read_text()


# Database files (by path and inode) this process has already given the schema: running
# schema.sql on every connection costs ~20 ms, and the loop opens hundreds of connections.
_SCHEMA_APPLIED: set[tuple[str, int]] = set()


class WarehouseBusy(RuntimeError):
    """Another process kept its lock on the warehouse for longer than the configured wait."""


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def _open(path: Path, read_only: bool, on_wait: Callable[[], None] | None) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting with backoff while another process holds a conflicting lock
    (DuckDB lets one writing process, or several reading ones, have the file at a time)."""
    from cl_assets.settings import LOCK_WAIT_ENV, lock_wait_s

    wait = lock_wait_s()
    deadline = time.monotonic() + wait
    delay = 0.02
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            if not _is_lock_conflict(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise WarehouseBusy(
                    f"{path} stayed locked by another process for {wait:g} s "
                    f"(set {LOCK_WAIT_ENV} to wait longer): {exc}"
                ) from None
            if on_wait is not None:
                on_wait()
                on_wait = None  # said once
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


@contextmanager
def connect(
    path: Path | str, read_only: bool = False, on_wait: Callable[[], None] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection for one operation, closed after the block. While another process holds the
    file, it waits (up to `CL_LOCK_WAIT_S`, calling `on_wait` once) instead of failing."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only, on_wait)
    try:
        if not read_only:
            key = (str(path.resolve()), path.stat().st_ino)
            if key not in _SCHEMA_APPLIED:
                upgrade(con)
                _SCHEMA_APPLIED.add(key)
        yield con
    finally:
        con.close()


@cache
def migrations() -> tuple[tuple[int, str], ...]:
    """(version, SQL) of every migration, in order; refuses a gap or a repeated number."""
    found = sorted((int(path.name.split("_", 1)[0]), path) for path in MIGRATIONS.glob("[0-9]*_*.sql"))
    if [version for version, _ in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations in {MIGRATIONS} must be numbered 1, 2, ... without gaps: {found}")
    return tuple((version, path.read_text()) for version, path in found)


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version a state folder's warehouse is at (0: made before versions were recorded)."""
    if not table_exists(con, "schema_version"):
        return 0
    return int(con.execute("select coalesce(max(version), 0) from schema_version").fetchall()[0][0])


def upgrade(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Bring the warehouse to today's schema, in one transaction: `schema.sql` creates the tables it
    lacks (a new warehouse gets them all, at the newest version); a warehouse made by an earlier
    version then gets each migration above its recorded version, in order. Then `views.sql`. A new table
    needs only `schema.sql`; a new column of a table also needs a migration. Returns the migrations applied."""
    steps = migrations()
    newest = steps[-1][0] if steps else 0
    tables = con.execute("select count(*) from information_schema.tables where table_schema = 'main'").fetchall()
    at = newest if tables[0][0] == 0 else schema_version(con)
    if at > newest:
        raise RuntimeError(
            f"the warehouse is at schema version {at}, newer than this code's {newest}: upgrade cl_assets"
        )
    applied = [version for version, _ in steps if version > at]
    con.execute("begin transaction")
    try:
        con.execute(query("schema"))
        for version, sql in steps:
            if version in applied:
                con.execute(sql)
        con.execute(query("views"))
        if not schema_version(con):  # a new warehouse, or one made before versions were recorded
            applied = applied or [newest]
        for version in applied:
            con.execute("insert into schema_version values (?, current_timestamp)", [version])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return applied


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    rows = con.execute("select count(*) from information_schema.tables where table_name = ?", [table]).fetchall()
    return bool(rows[0][0])


def replace_rows(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, key: str, value) -> int:
    """Replace exactly the rows of `table` whose `key` equals `value` with `frame`, atomically.

    The table is created from the frame's schema the first time; later frames are inserted by
    column name, so a column the table lacks is an error rather than a silent drop.
    """
    con.register("_incoming", frame)
    try:
        con.execute(f"create table if not exists {ident(table)} as select * from _incoming where false")
        con.execute("begin transaction")
        try:
            con.execute(f"delete from {ident(table)} where {ident(key)} = ?", [value])
            con.execute(f"insert into {ident(table)} by name select * from _incoming")
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    finally:
        con.unregister("_incoming")
    return len(frame)


def append_rows(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> int:
    """Insert a frame's rows into an existing table, by column name, in one statement."""
    con.register("_appended", frame)
    try:
        con.execute(f"insert into {ident(table)} by name select * from _appended")
    finally:
        con.unregister("_appended")
    return len(frame)


def append_row(con: duckdb.DuckDBPyConnection, table: str, row: dict) -> None:
    """Insert one row by column name; dicts and lists are stored as JSON text."""
    values = {k: json.dumps(v, default=str) if isinstance(v, dict | list) else v for k, v in row.items()}
    cols = ", ".join(ident(k) for k in values)
    marks = ", ".join("?" for _ in values)
    con.execute(f"insert into {ident(table)} ({cols}) values ({marks})", list(values.values()))


def missing(value) -> bool:
    """A NULL read back from DuckDB, however pandas spells it (None, NA, NaN)."""
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def number(value) -> float | None:
    """A numeric cell as a float, or None for NULL."""
    return None if missing(value) else float(value)


def fetch_df(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def fetch_records(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None) -> list[dict]:
    """Rows as dicts of plain Python values (NULL is None)."""
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def fetch_one(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None) -> dict | None:
    rows = fetch_records(con, sql, params)
    return rows[0] if rows else None
