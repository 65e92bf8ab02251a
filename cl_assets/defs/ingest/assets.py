"""Landed files become partitions: feature batches and the labels that arrive after them."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from cl_assets.defs.partitions import batches
from cl_assets.defs.resources import Dataset, Landing, Warehouse
from cl_assets.lib import landing
from cl_assets.lib.dataset import RESERVED
from cl_assets.lib.warehouse import replace_rows


def _arrived_at(path) -> pd.Timestamp:
    return pd.Timestamp(datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None))


@dg.asset(
    partitions_def=batches,
    group_name="ingest",
    kinds={"duckdb", "pandas"},
    pool="duckdb",
)
def raw_batches(context: dg.AssetExecutionContext, landing_zone: Landing, warehouse: Warehouse) -> dg.MaterializeResult:
    """Each landed feature batch as received, plus its batch id, arrival time and source file."""
    batch_id = context.partition_key
    path = landing_zone.file_for("batches", batch_id)
    frame = landing.read(path)
    clash = [c for c in frame.columns if c in RESERVED]
    if clash:
        raise dg.Failure(f"batch '{batch_id}': columns {clash} use names reserved by cl_assets")
    frame["batch_id"] = batch_id
    frame["arrived_at"] = _arrived_at(path)
    frame["source_file"] = path.name
    with warehouse.connect() as con:
        replace_rows(con, "raw_batches", frame, "batch_id", batch_id)
    return dg.MaterializeResult(
        metadata={
            "batch_id": batch_id,
            "dagster/row_count": len(frame),
            "source_file": dg.MetadataValue.path(str(path)),
            "columns": dg.MetadataValue.json(list(frame.columns)),
        }
    )


@dg.asset(
    partitions_def=batches,
    group_name="ingest",
    kinds={"duckdb", "pandas"},
    pool="duckdb",
)
def batch_labels(
    context: dg.AssetExecutionContext, landing_zone: Landing, warehouse: Warehouse, dataset: Dataset
) -> dg.MaterializeResult:
    """Labels of a batch's entities, which arrive after the batch itself (one row per id)."""
    batch_id = context.partition_key
    spec = dataset.spec()
    path = landing_zone.file_for("labels", batch_id)
    frame = landing.read(path)
    for col in (spec.id_column, spec.target):
        if col not in frame.columns:
            raise dg.Failure(f"labels of batch '{batch_id}': column '{col}' is missing from {path.name}")
    labels = pd.DataFrame(
        {
            "batch_id": batch_id,
            "entity_id": frame[spec.id_column].astype(str),
            "label": pd.to_numeric(frame[spec.target], errors="raise").astype(int),
            "arrived_at": _arrived_at(path),
            "source_file": path.name,
        }
    ).drop_duplicates("entity_id", keep="last")
    with warehouse.connect() as con:
        replace_rows(con, "labels", labels, "batch_id", batch_id)
    return dg.MaterializeResult(
        metadata={
            "batch_id": batch_id,
            "dagster/row_count": len(labels),
            "positive_rate": float(labels["label"].mean()) if len(labels) else 0.0,
            "source_file": dg.MetadataValue.path(str(path)),
        }
    )
