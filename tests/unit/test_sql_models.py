"""dbt-like SQL models: discovery, rendering, partitioned and whole builds, the project's own models."""

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cl_assets.lib import scenario, sql_models, warehouse
from cl_assets.lib.sql_models import SqlModelError
from cl_assets.settings import PROJECT_ROOT

STG = """-- Staged rows of raw_x,
-- one per input row.
{{ config(materialized='partition', partition_by='batch_id') }}
select batch_id, id, value * {{ var('factor') }} as value from {{ source('landing', 'raw_x') }}
"""
FEAT = """-- Features of x.
{{ config(materialized='partition', partition_by='batch_id') }}
select batch_id, id, value + 1 as value_plus from {{ ref('stg_x') }}
"""
SUMMARY = "select batch_id, count(*) as n, sum(value) as total from {{ ref('stg_x') }} group by batch_id\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture
def project(tmp_path) -> Path:
    # names chosen so that alphabetical order is not dependency order
    return write(
        tmp_path / "models", {"a_features/feat_x.sql": FEAT, "z_staging/stg_x.sql": STG, "summary.sql": SUMMARY}
    )


def test_discover_orders_by_dependency_and_parses_each_file(project):
    models = {m.name: m for m in sql_models.discover(project)}
    order = [m.name for m in sql_models.discover(project)]
    assert set(order) == {"stg_x", "feat_x", "summary"}
    assert order.index("stg_x") < order.index("feat_x")
    assert order.index("stg_x") < order.index("summary")
    stg, feat, summary = models["stg_x"], models["feat_x"], models["summary"]
    assert stg.refs == () and stg.sources == (("landing", "raw_x"),) and stg.upstream == ["raw_x"]
    assert feat.refs == ("stg_x",) and feat.sources == () and feat.upstream == ["stg_x"]
    assert stg.partitioned and feat.partitioned and not summary.partitioned
    assert stg.config == {"materialized": "partition", "partition_by": "batch_id"}
    assert (stg.group, feat.group, summary.group) == ("z_staging", "a_features", "sql_models")
    assert stg.description == "Staged rows of raw_x, one per input row."
    assert feat.description == "Features of x."
    assert summary.description == "SQL model summary.sql"


@pytest.mark.parametrize("refs", [{"a": "b", "b": "a"}, {"a": "c", "b": "a", "c": "b"}, {"a": "a"}])
def test_a_cycle_raises_naming_a_model(tmp_path, refs):
    write(tmp_path, {f"{name}.sql": f"select * from {{{{ ref('{up}') }}}}" for name, up in refs.items()})
    with pytest.raises(SqlModelError, match="cycle") as err:
        sql_models.discover(tmp_path)
    assert any(f"'{name}'" in str(err.value) for name in refs)


def test_two_models_with_the_same_name_raise_naming_both_files(tmp_path):
    write(tmp_path, {"one/dup.sql": "select 1", "two/dup.sql": "select 2"})
    with pytest.raises(SqlModelError, match="'dup'") as err:
        sql_models.discover(tmp_path)
    assert str(tmp_path / "one" / "dup.sql") in str(err.value) and str(tmp_path / "two" / "dup.sql") in str(err.value)


def test_unreadable_call_arguments_raise_naming_the_file(tmp_path):
    write(tmp_path, {"bad.sql": "select * from {{ ref(some_name) }}"})
    with pytest.raises(SqlModelError, match="bad.sql"):
        sql_models.discover(tmp_path)


def test_an_undefined_var_raises_naming_it(project):
    stg = next(m for m in sql_models.discover(project) if m.name == "stg_x")
    with pytest.raises(SqlModelError, match=r"var\('factor'\)") as err:
        sql_models.render(stg, {"other": 1}, warehouse.ident)
    assert "stg_x.sql" in str(err.value)
    assert "* 3 as value" in sql_models.render(stg, {"factor": 3}, warehouse.ident)


def raw(batch: str, ids: list[int], value: float) -> pd.DataFrame:
    return pd.DataFrame({"batch_id": batch, "id": ids, "value": [value + i for i in range(len(ids))]})


def table(con, name: str) -> list[tuple]:
    return sorted(con.execute(f"select * from {warehouse.ident(name)}").fetchall())


def test_partitioned_build_replaces_only_its_batch_and_is_idempotent(project, tmp_path):
    models = {m.name: m for m in sql_models.discover(project)}
    variables = {"factor": 2}
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        warehouse.replace_rows(con, "raw_x", raw("b1", [1, 2, 3], 10.0), "batch_id", "b1")
        warehouse.replace_rows(con, "raw_x", raw("b2", [4, 5], 100.0), "batch_id", "b2")
        for batch in ("b1", "b2"):
            assert sql_models.build(con, models["stg_x"], variables, batch) == {"b1": 3, "b2": 2}[batch]
            sql_models.build(con, models["feat_x"], variables, batch)
        b1, b2 = [("b1", 1, 20.0), ("b1", 2, 22.0), ("b1", 3, 24.0)], [("b2", 4, 200.0), ("b2", 5, 202.0)]
        assert table(con, "stg_x") == b1 + b2
        assert table(con, "feat_x") == [(b, i, v + 1) for b, i, v in table(con, "stg_x")]

        before = {name: table(con, name) for name in ("stg_x", "feat_x")}
        for name in ("stg_x", "feat_x"):
            sql_models.build(con, models[name], variables, "b2")
        assert {name: table(con, name) for name in ("stg_x", "feat_x")} == before

        warehouse.replace_rows(con, "raw_x", raw("b1", [7], 1.0), "batch_id", "b1")
        assert sql_models.build(con, models["stg_x"], variables, "b1") == 1
        assert table(con, "stg_x") == [("b1", 7, 2.0), *b2]


def test_partitioned_model_needs_a_partition(project, tmp_path):
    stg = next(m for m in sql_models.discover(project) if m.name == "stg_x")
    with warehouse.connect(tmp_path / "w.duckdb") as con, pytest.raises(SqlModelError, match="stg_x.sql"):
        sql_models.build(con, stg, {"factor": 1}, None)


def test_unpartitioned_model_is_rebuilt_whole(project, tmp_path):
    models = {m.name: m for m in sql_models.discover(project)}
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        warehouse.replace_rows(con, "raw_x", raw("b1", [1, 2], 1.0), "batch_id", "b1")
        sql_models.build(con, models["stg_x"], {"factor": 1}, "b1")
        assert sql_models.build(con, models["summary"], {}, None) == 1
        assert table(con, "summary") == [("b1", 2, 3.0)]
        warehouse.replace_rows(con, "raw_x", raw("b2", [3, 4, 5], 10.0), "batch_id", "b2")
        sql_models.build(con, models["stg_x"], {"factor": 1}, "b2")
        assert sql_models.build(con, models["summary"], {}, "ignored") == 2
        assert table(con, "summary") == [("b1", 2, 3.0), ("b2", 3, 33.0)]


# -- the project's own models on a scenario batch


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    spec = scenario.spec()
    frame = scenario.generate_batch(0, 200).drop(columns=["churned"])
    frame.loc[8, "discount_pct"] = np.nan  # pandas NaN arrives in DuckDB as NULL already
    frame.loc[1, "monthly_spend"] = np.inf
    frame.loc[2, "age"] = -np.inf
    frame.loc[3, "channel"] = "  web  "
    frame.loc[4, "plan"] = " premium"
    frame.loc[5, "region"] = " east "
    later = frame.iloc[[6]].assign(event_time_utc=frame.loc[6, "event_time_utc"] + pd.Timedelta(minutes=5), plan="plus")
    earlier = frame.iloc[[7]].assign(
        event_time_utc=frame.loc[7, "event_time_utc"] - pd.Timedelta(minutes=5), plan="gone"
    )
    frame = pd.concat([frame, later, earlier], ignore_index=True)
    frame["batch_id"] = "b0"
    frame["arrived_at"] = datetime(2026, 1, 29)
    models = sql_models.discover(PROJECT_ROOT / "dbt_like_sql")
    path = tmp_path_factory.mktemp("real") / "w.duckdb"
    with warehouse.connect(path) as con:
        warehouse.replace_rows(con, "raw_batches", frame, "batch_id", "b0")
        # a real NaN (e.g. from a Parquet file) can only be stored through SQL
        con.execute(
            "update raw_batches set tenure_months = 'nan'::double where customer_id = ?",
            [int(frame.loc[0, "customer_id"])],
        )
        raw_nans = con.execute("select count(*) from raw_batches where isnan(tenure_months)").fetchall()[0][0]
        for model in models:
            sql_models.build(con, model, spec.sql_vars(), "b0")
        stg = warehouse.fetch_df(con, "select * from stg_batches")
        feats = warehouse.fetch_df(con, "select * from batch_features")
    assert raw_nans == 1
    return frame, models, stg.set_index("entity_id"), feats.set_index("entity_id")


def test_project_models_are_found_in_order(built):
    _, models, _, _ = built
    assert [m.name for m in models] == ["stg_batches", "batch_features"]
    assert models[0].sources == (("landing", "raw_batches"),) and models[1].refs == ("stg_batches",)
    assert all(m.partitioned for m in models)


def test_stg_batches_nulls_non_finite_numbers_and_trims_categories(built):
    frame, _, stg, _ = built
    assert len(stg) == len(frame)
    first = frame["customer_id"].astype(str)
    assert pd.isna(stg.loc[first[0], "tenure_months"])
    assert pd.isna(stg.loc[first[1], "monthly_spend"])
    assert pd.isna(stg.loc[first[2], "age"])
    assert pd.isna(stg.loc[first[8], "discount_pct"])
    numeric = stg[scenario.spec().numeric]
    assert int(numeric.isna().sum().sum()) == 4
    assert np.isfinite(numeric.to_numpy(float)[~numeric.isna().to_numpy()]).all()
    assert stg.loc[first[3], "channel"] == "web" and stg.loc[first[4], "plan"] == "premium"
    for col in ("region", "channel", "plan"):
        assert (stg[col] == stg[col].str.strip()).all()
    assert (stg["slice"] == stg["region"]).all()
    assert stg.loc[first[5], "slice"] == "east"


def test_batch_features_keep_the_latest_row_per_entity(built):
    frame, _, stg, feats = built
    assert len(stg) == len(frame) == 202
    assert feats.index.is_unique and len(feats) == frame["customer_id"].nunique() == 200
    first = frame["customer_id"].astype(str)
    assert feats.loc[first[6], "plan"] == "plus"  # the later duplicate wins
    assert feats.loc[first[7], "plan"] == frame.loc[7, "plan"]  # the earlier duplicate loses
    spec = scenario.spec()
    assert [feats.columns[0], feats.index.name, *feats.columns[1:]] == [
        "batch_id",
        "entity_id",
        "event_time",
        "slice",
        *spec.numeric,
        *spec.categorical,
        "arrived_at",
    ]
    assert (feats["batch_id"] == "b0").all()
