"""Each SQL file in dbt_like_sql/ becomes an asset; its refs become its dependencies.

A partitioned model with a suite in expectations/ (named after the model) is staged first:
its rows for the batch are validated before they replace the stored ones, and a batch whose
rows break an ERROR expectation is quarantined like a bad delivery.
"""

import hashlib
from collections.abc import Iterator

import dagster as dg

from cl_assets.defs.partitions import batches
from cl_assets.defs.quality import records
from cl_assets.defs.resources import Dataset, Warehouse
from cl_assets.lib import expectations, sql_models
from cl_assets.settings import PROJECT_ROOT

SQL_ROOT = PROJECT_ROOT / "dbt_like_sql"


def _asset_for(model: sql_models.SqlModel, suite: dict | None) -> dg.AssetsDefinition:
    checked = suite is not None and model.partitioned
    description = model.description
    if checked:
        description += f"\n\nValidated against expectations/{suite['name']}.json before it is stored."

    @dg.asset(
        name=model.name,
        deps=[dg.AssetKey(table) for table in model.upstream],
        partitions_def=batches if model.partitioned else None,
        group_name=model.group,
        kinds={"duckdb", "sql"},
        description=description,
        code_version=hashlib.sha256(model.sql.encode()).hexdigest()[:12],
        metadata={
            "sql_file": dg.MetadataValue.path(str(model.path.relative_to(PROJECT_ROOT))),
            "sql": dg.MetadataValue.md(f"```sql\n{model.sql}\n```"),
        },
        check_specs=records.check_specs(model.name, suite, file_check=False) if checked else None,
        pool="duckdb",
    )
    def _build(context: dg.AssetExecutionContext, warehouse: Warehouse, dataset: Dataset) -> Iterator:
        partition = context.partition_key if model.partitioned else None
        variables = dataset.spec().sql_vars()
        if not checked:
            with warehouse.connect() as con:
                rows = sql_models.build(con, model, variables, partition)
            yield dg.MaterializeResult(
                metadata={"dagster/row_count": rows, **({"batch_id": partition} if partition else {})}
            )
            return
        run_id = context.run.run_id
        delivery = records.Delivery(
            model.name,
            partition,
            f"{model.name}.sql",
            run_id[:8],
            None,
            run_id,
            subject=f"features of batch '{partition}'",
        )
        with warehouse.connect() as con:
            staged = sql_models.stage(con, model, variables, partition)
            frame = con.table(staged).df()  # read as a relation: sql_models.stage names the table
            outcomes = expectations.validate(frame, suite)
            status, why = records.settle(con, delivery, suite, frame, None, outcomes)
            rows = sql_models.publish(con, model, staged, partition) if status != "quarantined" else 0
        if status == "quarantined":
            context.log.warning(f"features of batch '{partition}' quarantined: {why}")
        yield dg.MaterializeResult(
            metadata={"dagster/row_count": rows, "batch_id": partition, "status": status, "reason": why or ""}
        )
        yield from records.outcome_results(model.name, delivery, suite, outcomes)

    return _build


def sql_model_assets(suites: dict[str, dict] | None = None) -> list[dg.AssetsDefinition]:
    """An asset per SQL model; `suites` maps a model name to the suite it is validated against."""
    suites = suites or {}
    return [_asset_for(m, suites.get(m.name)) for m in sql_models.discover(SQL_ROOT)]


def suites_for(dataset: Dataset) -> dict[str, dict]:
    """The suites of the SQL models that have one (expectations/<model>.json)."""
    return {
        m.name: dataset.suite(m.name) for m in sql_models.discover(SQL_ROOT) if dataset.suite_path(m.name).is_file()
    }
