"""dbt-like SQL models: one `.sql` file per table, dependencies through `{{ ref('...') }}`.

A model may start with `--` comment lines (its description) and a
`{{ config(materialized='partition', partition_by='batch_id') }}` call. Partitioned models are
built one batch at a time: every `ref()` / `source()` becomes a subquery filtered to that
batch, and only that batch's rows of the model's table are replaced. Other models are
rebuilt whole (`create or replace table`). `{{ var('name') }}` reads the dataset's column
roles, so the same files serve the built-in scenario and a user's own data.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import jinja2

from cl_assets.lib.warehouse import ident

_CALL = re.compile(r"\{\{\s*(ref|source|config)\((.*?)\)\s*\}\}", re.DOTALL)
PARTITION_PARAM = "batch_id"


class SqlModelError(ValueError):
    """A model file that cannot be parsed or rendered; the message names the file."""


@dataclass(frozen=True)
class SqlModel:
    name: str
    path: Path
    sql: str
    group: str
    description: str
    refs: tuple[str, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()
    config: dict = field(default_factory=dict)

    @property
    def partitioned(self) -> bool:
        return self.config.get("materialized") == "partition"

    @property
    def upstream(self) -> list[str]:
        """Table names this model reads: its refs and the tables of its sources."""
        return [*self.refs, *(table for _, table in self.sources)]


def _call_args(text: str, path: Path) -> tuple[list, dict]:
    try:
        call = ast.parse(f"f({text})", mode="eval").body
        assert isinstance(call, ast.Call)
        return [ast.literal_eval(a) for a in call.args], {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    except (SyntaxError, ValueError, AssertionError) as exc:
        raise SqlModelError(f"{path}: cannot read the arguments '{text}': {exc}") from exc


def parse(path: Path, root: Path) -> SqlModel:
    sql = path.read_text()
    refs, sources, config = [], [], {}
    for kind, text in _CALL.findall(sql):
        args, kwargs = _call_args(text, path)
        if kind == "ref":
            refs.append(args[0])
        elif kind == "source":
            if len(args) != 2:
                raise SqlModelError(f"{path}: source() takes a source name and a table name")
            sources.append((args[0], args[1]))
        else:
            config.update(kwargs)
    comments = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        comments.append(line.removeprefix("--").strip())
    rel = path.relative_to(root)
    return SqlModel(
        name=path.stem,
        path=path,
        sql=sql,
        group=rel.parts[0] if len(rel.parts) > 1 else "sql_models",
        description=" ".join(comments).strip() or f"SQL model {rel}",
        refs=tuple(dict.fromkeys(refs)),
        sources=tuple(dict.fromkeys(sources)),
        config=config,
    )


def discover(root: Path) -> list[SqlModel]:
    """Every model under `root`, in dependency order. Names must be unique."""
    models = [parse(p, root) for p in sorted(root.rglob("*.sql"))]
    by_name: dict[str, SqlModel] = {}
    for m in models:
        if m.name in by_name:
            raise SqlModelError(f"two models are named '{m.name}': {by_name[m.name].path} and {m.path}")
        by_name[m.name] = m
    ordered: list[SqlModel] = []
    visiting: set[str] = set()

    def visit(m: SqlModel) -> None:
        if m in ordered:
            return
        if m.name in visiting:
            raise SqlModelError(f"models form a cycle through '{m.name}'")
        visiting.add(m.name)
        for ref in m.refs:
            if ref in by_name:
                visit(by_name[ref])
        visiting.discard(m.name)
        ordered.append(m)

    for m in models:
        visit(m)
    return ordered


def render(model: SqlModel, variables: dict, relation: Callable[[str], str]) -> str:
    """The model's SQL with refs, sources, vars and config resolved."""

    def var(name: str, default=None):
        if name in variables:
            return variables[name]
        if default is not None:
            return default
        raise SqlModelError(f"{model.path}: var('{name}') is not defined (known: {', '.join(sorted(variables))})")

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["ident"] = ident
    try:
        template = env.from_string(model.sql)
        return (
            template.render(
                ref=relation,
                source=lambda _source, table: relation(table),
                var=var,
                config=lambda **_: "",
            )
            .strip()
            .rstrip(";")
        )
    except jinja2.TemplateError as exc:
        raise SqlModelError(f"{model.path}: {exc}") from exc


def stage(con: duckdb.DuckDBPyConnection, model: SqlModel, variables: dict, partition: str) -> str:
    """Run a partitioned model into a temporary table, not yet visible; returns its name."""
    if not model.partitioned:
        raise SqlModelError(f"{model.path}: only partitioned models are staged before they are stored")
    key = ident(model.config.get("partition_by", "batch_id"))
    sql = render(model, variables, lambda t: f"(select * from {ident(t)} where {key} = ${PARTITION_PARAM})")
    staged = ident(f"_staged_{model.name}")
    con.execute(f"create or replace temp table {staged} as {sql}", {PARTITION_PARAM: partition})
    return staged


def publish(con: duckdb.DuckDBPyConnection, model: SqlModel, staged: str, partition: str) -> int:
    """Replace the model's partition with the staged rows, atomically; returns the rows written."""
    table = ident(model.name)
    key = ident(model.config.get("partition_by", "batch_id"))
    params = {PARTITION_PARAM: partition}
    con.execute(f"create table if not exists {table} as select * from {staged} where false")
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {table} where {key} = ${PARTITION_PARAM}", params)
        con.execute(f"insert into {table} by name select * from {staged}")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    con.execute(f"drop table if exists {staged}")
    return con.execute(f"select count(*) from {table} where {key} = ${PARTITION_PARAM}", params).fetchall()[0][0]


def build(con: duckdb.DuckDBPyConnection, model: SqlModel, variables: dict, partition: str | None) -> int:
    """Build the model's table (or one partition of it); returns the rows written."""
    table = ident(model.name)
    if not model.partitioned:
        sql = render(model, variables, ident)
        con.execute(f"create or replace table {table} as {sql}")
        return con.execute(f"select count(*) from {table}").fetchall()[0][0]
    if partition is None:
        raise SqlModelError(f"{model.path}: a partitioned model is built one batch at a time")
    return publish(con, model, stage(con, model, variables, partition), partition)
