"""Each SQL file in dbt_like_sql/ becomes an asset; its refs become its dependencies."""

import hashlib

import dagster as dg

from cl_assets.defs.partitions import batches
from cl_assets.defs.resources import Dataset, Warehouse
from cl_assets.lib import sql_models
from cl_assets.settings import PROJECT_ROOT

SQL_ROOT = PROJECT_ROOT / "dbt_like_sql"


def _asset_for(model: sql_models.SqlModel) -> dg.AssetsDefinition:
    @dg.asset(
        name=model.name,
        deps=[dg.AssetKey(table) for table in model.upstream],
        partitions_def=batches if model.partitioned else None,
        group_name=model.group,
        kinds={"duckdb", "sql"},
        description=model.description,
        code_version=hashlib.sha256(model.sql.encode()).hexdigest()[:12],
        metadata={
            "sql_file": dg.MetadataValue.path(str(model.path.relative_to(PROJECT_ROOT))),
            "sql": dg.MetadataValue.md(f"```sql\n{model.sql}\n```"),
        },
        pool="duckdb",
    )
    def _build(context: dg.AssetExecutionContext, warehouse: Warehouse, dataset: Dataset) -> dg.MaterializeResult:
        partition = context.partition_key if model.partitioned else None
        with warehouse.connect() as con:
            rows = sql_models.build(con, model, dataset.spec().sql_vars(), partition)
        return dg.MaterializeResult(
            metadata={"dagster/row_count": rows, **({"batch_id": partition} if partition else {})}
        )

    return _build


def sql_model_assets() -> list[dg.AssetsDefinition]:
    return [_asset_for(m) for m in sql_models.discover(SQL_ROOT)]
