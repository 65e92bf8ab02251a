"""The application's SQL lives in cl_assets/queries/*.sql, each file named once in lib/queries.py,
none of it in the Python of the stages, the CLI and the replay; and every query binds against
today's tables, so a misspelt column fails here rather than in the loop."""

import ast
import re
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from cl_assets.lib import composition, queries, reference, scenario, sql_models, warehouse
from cl_assets.settings import PROJECT_ROOT

PACKAGE = Path(__file__).resolve().parents[2] / "cl_assets"
# Applied by warehouse.upgrade, not read by the application: no Query names them.
NOT_QUERIES = {"schema", "views"}
FILES = sorted(p.stem for p in warehouse.QUERIES.glob("*.sql") if p.stem not in NOT_QUERIES)
CONSTANTS = {name: value for name, value in vars(queries).items() if isinstance(value, queries.Query)}


def test_every_query_file_has_exactly_one_constant_named_after_it():
    named = sorted(q.name for q in CONSTANTS.values())
    assert sorted(set(named)) == named, (
        f"files named by more than one constant: {sorted({n for n in named if named.count(n) > 1})}"
    )
    assert set(named) == set(FILES), (
        f"files without a constant: {sorted(set(FILES) - set(named))}; "
        f"constants without a file: {sorted(set(named) - set(FILES))}"
    )
    wrong = {constant: q.name for constant, q in CONSTANTS.items() if constant != q.name.upper()}
    assert not wrong, f"a constant is the upper-case name of its file: {wrong}"


def test_query_parameters_are_a_list_a_dict_or_keywords_not_both():
    con = None  # refused before the connection is used
    with pytest.raises(TypeError):
        queries.CURRENT_CHAMPION.one(con, {"version": 1}, version=1)


# Where no SQL may be written in Python: the stages, the CLI, the replay, and the lib modules that
# read the loop's tables for them.
NO_SQL = [
    *sorted((PACKAGE / "defs").rglob("*.py")),
    *sorted((PACKAGE / "cli").rglob("*.py")),
    *sorted((PACKAGE / "replay").rglob("*.py")),
    PACKAGE / "lib" / "reference.py",
    PACKAGE / "lib" / "lineage.py",
    PACKAGE / "lib" / "champion.py",
]
# A statement, not merely a sentence that begins with its verb: each keyword must be followed by what
# makes it SQL (select ... from, insert into, update <table> set, delete from, with <name> as (, create
# or alter or drop of a table, view, index, macro or sequence). Docstrings and Dagster descriptions such
# as "With accept_drift_reason: ..." or "delete the state folder first" do not match.
STATEMENT = re.compile(
    r"^\s*(?:select\s.*?\bfrom\b|insert\s+into\s|update\s+\w+\s+set\s|delete\s+from\s"
    r"|with\s+(?:recursive\s+)?\w+\s+as\s*\(|create\s+(?:or\s+replace\s+)?(?:temp\s+|temporary\s+)?"
    r"(?:table|view|index|macro|sequence)\b|alter\s+table\s|drop\s+(?:table|view|index|macro|sequence)\b)",
    re.IGNORECASE | re.DOTALL,
)


def _strings(tree: ast.AST):
    """(line, text) of every string literal; an f-string with `{}` for each of its values."""
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


@pytest.mark.parametrize("path", NO_SQL, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_sql_statement_in_python(path):
    found = [
        f"line {line}: {text[:80]!r}" for line, text in _strings(ast.parse(path.read_text())) if STATEMENT.match(text)
    ]
    assert not found, f"{path.relative_to(PACKAGE)} holds SQL; move it to cl_assets/queries/: {found}"


@pytest.mark.parametrize(
    "text",
    [
        "select * from t",
        "SELECT a,\n  b\nFROM t",
        "insert into t by name select * from x",
        "update retrain_triggers set promoted = true",
        "delete from t where a = ?",
        "with labeled as (select 1)",
        "create or replace temp table x as select 1",
        "drop table if exists x",
    ],
)
def test_the_statement_pattern_finds_sql(text):
    assert STATEMENT.match(text)


@pytest.mark.parametrize(
    "text",
    [
        "With accept_drift_reason: how many of the newest scored batches.",
        "delete the state folder first",
        "Update the state with one evaluation; a verdict for every failure, None for a pass.",
        "Create the experiment with its artifacts under the state folder (not ./mlruns).",
        "drop",
        "Selected rows",
    ],
)
def test_the_statement_pattern_lets_prose_be(text):
    assert not STATEMENT.match(text)


# A value of every parameter a query names, of the type its callers pass, for binding.
DUMMY = {
    "action": "promoted",
    "also_batches": [],
    "asset": "raw_batches",
    "batch_id": "b0",
    "batch_ids": ["b0"],
    "canary_id": "promotion-0",
    "champion_version": 1,
    "check_name": "drift_check",
    "column_name": "customer_id",
    "count": 3,
    "current": 1,
    "delivery_id": "delivery-0",
    "model_version": 1,
    "profile_id": 1,
    "promotion_id": "promotion-0",
    "report_id": "report-0",
    "rows": 10,
    "run_id": "run-0",
    "run_ids": ["run-0"],
    "slice": "__overall__",
    "suite": "raw_batches",
    "suite_sha": "0",
    "table_name": "raw_batches",
    "trigger_id": "trigger-0",
    "version": 1,
    "versions": [1],
    "window_batches": 0,
}
# Frames some queries read that their callers register on the connection first.
REGISTERED = {
    "ids_seen_before": ("_incoming_ids", pd.DataFrame({"entity_id": ["1"]})),
    "insert_reference_values": (
        "_values",
        pd.DataFrame({"profile_id": [1], "slice": ["*"], "feature": ["age"], "value": [1.0]}),
    ),
}


def _code(sql: str) -> str:
    """The SQL without its comments and string literals."""
    return re.sub(r"'(?:[^']|'')*'", "''", re.sub(r"--[^\n]*", "", sql))


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    """A warehouse made by `warehouse.connect` (schema.sql, the migrations, views.sql), with the tables
    no schema file creates (raw_batches, stg_batches, batch_features, training_sets, reference_samples)
    written the way the loop writes them: a built-in batch landed, the SQL models built on it, its
    labels, a training set composed from them, and a reference sample of it."""
    spec = scenario.spec()
    batch = scenario.generate_batch(0, 200)
    path = tmp_path_factory.mktemp("queries") / "w.duckdb"
    with warehouse.connect(path) as con:
        raw = batch.drop(columns=[spec.target]).assign(
            batch_id="b0", arrived_at=datetime(2026, 1, 1), source_file="b0.csv"
        )
        warehouse.replace_rows(con, "raw_batches", raw, "batch_id", "b0")
        for model in sql_models.discover(PROJECT_ROOT / "dbt_like_sql"):
            sql_models.build(con, model, spec.sql_vars(), "b0")
        labels = pd.DataFrame(
            {
                "batch_id": "b0",
                "entity_id": batch[spec.id_column].astype(str),
                "label": batch[spec.target].astype(int),
                "arrived_at": datetime(2026, 1, 2),
                "source_file": "b0_labels.csv",
            }
        )
        warehouse.replace_rows(con, "labels", labels, "batch_id", "b0")
        labeled = queries.LABELED_FEATURES.df(con, window_batches=0, also_batches=[])
        frame = composition.compose(labeled, composition.Recipe(window="all")).frame
        frame.insert(0, "version", 1)
        warehouse.replace_rows(con, "training_sets", frame, "version", 1)
        sample = reference.sample_rows(frame[spec.features]).assign(profile_id=1)
        warehouse.replace_rows(con, "reference_samples", sample, "profile_id", 1)
        yield con


@pytest.mark.parametrize("name", FILES)
def test_query_binds_against_todays_tables(con, name):
    """EXPLAIN binds the statement (tables, columns, types) with a value for each parameter, and
    runs nothing: a delete or an update changes no row."""
    sql = queries.Query(name).sql
    code = _code(sql)
    assert "?" not in code, f"{name}.sql: name its parameters ($batch_id), as its callers do"
    names = sorted(set(re.findall(r"\$([A-Za-z_]\w*)", code)))
    unknown = [n for n in names if n not in DUMMY]
    assert not unknown, f"{name}.sql: give DUMMY a value of {unknown}"
    assert len(con.extract_statements(sql)) == 1, f"{name}.sql holds more than one statement"
    frame = REGISTERED.get(name)
    if frame is not None:
        con.register(*frame)
    try:
        con.execute(f"explain {sql}", {n: DUMMY[n] for n in names})
    finally:
        if frame is not None:
            con.unregister(frame[0])
