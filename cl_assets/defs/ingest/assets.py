"""Landed files become partitions: feature batches and the labels that arrive after them.

Each file is validated against its suite *before* its rows become visible. A delivery that
breaks an ERROR expectation is quarantined: its rows go to `quarantined_rows`, the reasons to
`quarantine`, and the asset's blocking checks fail, so nothing downstream reads it. Rows
stored earlier for the batch stay as they were.
"""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd

from cl_assets.defs.ingest.landing_zone import Landing
from cl_assets.defs.partitions import batches
from cl_assets.defs.quality import records
from cl_assets.defs.resources import Dataset, Warehouse
from cl_assets.lib import contracts, expectations, landing, queries
from cl_assets.lib.dataset import RESERVED
from cl_assets.lib.warehouse import replace_rows, table_exists

RAW_SUITE, LABELS_SUITE = "raw_batches", "batch_labels"
EPOCH = pd.Timestamp("1970-01-01")


def _arrived_at(path: Path) -> pd.Timestamp:
    return pd.Timestamp(datetime.fromtimestamp(path.lstat().st_mtime, UTC).replace(tzinfo=None))


def _delivery(context: dg.AssetExecutionContext, asset: str, landing_zone: Landing, kind: str):
    """Find and read the partition's file; a file that cannot be read is a `BadFile`."""
    batch_id = context.partition_key
    path = None
    try:
        path = landing_zone.file_for(kind, batch_id)
        delivery = records.Delivery(
            asset, batch_id, path.name, landing.signature(path), _arrived_at(path), context.run.run_id
        )
        frame = contracts.read_landed(path, landing_zone.folder(kind), landing_zone.max_bytes)
        return delivery, frame, None
    except contracts.BadFile as bad:
        name = path.name if path is not None else batch_id
        signature = landing.signature(path) if path is not None and path.exists() else "unread"
        return records.Delivery(asset, batch_id, name, signature, None, context.run.run_id), None, bad


def _results(asset: str, delivery, suite: dict, bad, outcomes, status: str, why, rows: int) -> Iterator:
    yield dg.MaterializeResult(
        asset_key=asset,
        metadata={
            "batch_id": delivery.batch_id,
            "status": status,
            "reason": why or "",
            "dagster/row_count": rows if status != "quarantined" else 0,
            "source_file": delivery.source_file,
            "delivery_id": delivery.delivery_id,
        },
    )
    yield records.file_result(asset, delivery, bad)
    if bad is None:
        yield from records.outcome_results(asset, delivery, suite, outcomes)


def stored_type(con, table: str, column: str) -> str | None:
    """The DuckDB type of a stored column, or None before the table holds it."""
    row = queries.COLUMN_TYPE.one(con, table_name=table, column_name=column)
    return row["data_type"] if row else None


def _raw_parameters(con, view: pd.DataFrame, id_column: str, delivery, landing_zone: Landing) -> dict:
    """Suite parameters from the warehouse: ids this batch shares with earlier ones, time bounds."""
    seen, newest = [], None
    if table_exists(con, "stg_batches") and id_column in view.columns:
        con.register("_incoming_ids", pd.DataFrame({"entity_id": view[id_column].dropna().astype(str).unique()}))
        try:
            seen = queries.IDS_SEEN_BEFORE.df(con, batch_id=delivery.batch_id)["entity_id"].tolist()
        finally:
            con.unregister("_incoming_ids")
        newest = queries.NEWEST_EVENT_TIME.df(con, batch_id=delivery.batch_id)["newest"].iloc[0]
    earliest = EPOCH if newest is None or pd.isna(newest) else newest - timedelta(days=landing_zone.out_of_order_days)
    return {
        "ids_seen_before": seen,
        "earliest_event_time": pd.Timestamp(earliest),
        "latest_event_time": delivery.arrived_at + timedelta(hours=landing_zone.future_tolerance_hours),
    }


def _take_in(
    context: dg.AssetExecutionContext,
    asset: str,
    kind: str,
    suite: dict,
    landing_zone: Landing,
    warehouse: Warehouse,
    prepare: Callable,
    store: Callable,
) -> Iterator:
    """One landed file, for either ingest asset: read it; `prepare` looks up what its suite
    needs and returns (view, parameters) or raises BadFile; the suite is run with the database
    closed; then the delivery's fate is recorded and, if accepted, `store` writes its rows."""
    delivery, frame, bad = _delivery(context, asset, landing_zone, kind)
    outcomes: list[expectations.Outcome] = []
    view = None
    if bad is None:
        try:
            with warehouse.connect() as con:
                view, parameters = prepare(con, delivery, frame)
            outcomes = expectations.validate(view, suite, parameters)
        except contracts.BadFile as exc:
            bad = exc
    with warehouse.connect() as con:
        status, why = records.settle(
            con, delivery, suite, frame, bad, outcomes, store=lambda c: store(c, delivery, frame, view)
        )
    if status == "quarantined":
        what = "labels of batch" if kind == "labels" else "batch"
        context.log.warning(f"{what} '{delivery.batch_id}' quarantined: {why}")
    yield from _results(asset, delivery, suite, bad, outcomes, status, why, 0 if frame is None else len(frame))


def raw_batches_asset(suite: dict) -> dg.AssetsDefinition:
    @dg.asset(
        name="raw_batches",
        partitions_def=batches,
        group_name="ingest",
        kinds={"duckdb", "pandas"},
        pool="duckdb",
        check_specs=records.check_specs("raw_batches", suite),
        description=(
            "Each landed feature batch as received, validated against its suite "
            f"(expectations/{RAW_SUITE}.json); one that breaks an ERROR expectation is quarantined. "
            "Details: docs/assets.md."
        ),
    )
    def _raw_batches(
        context: dg.AssetExecutionContext, landing_zone: Landing, warehouse: Warehouse, dataset: Dataset
    ) -> Iterator:
        spec = dataset.spec()

        def prepare(con, delivery, frame):
            clash = [c for c in frame.columns if c in RESERVED]
            if clash:
                raise contracts.BadFile("reserved_columns", f"columns {clash} use names reserved by cl_assets")
            view = contracts.raw_view(frame, spec.id_column, spec.time_column)
            contracts.ids_match_stored(frame, spec.id_column, stored_type(con, "raw_batches", spec.id_column))
            return view, _raw_parameters(con, view, spec.id_column, delivery, landing_zone)

        def store(con, delivery, frame, view):
            stored = frame.assign(
                batch_id=delivery.batch_id, arrived_at=delivery.arrived_at, source_file=delivery.source_file
            )
            replace_rows(con, "raw_batches", stored, "batch_id", delivery.batch_id)

        yield from _take_in(context, "raw_batches", "batches", suite, landing_zone, warehouse, prepare, store)

    return _raw_batches


def batch_labels_asset(suite: dict) -> dg.AssetsDefinition:
    @dg.asset(
        name="batch_labels",
        partitions_def=batches,
        group_name="ingest",
        kinds={"duckdb", "pandas"},
        pool="duckdb",
        check_specs=records.check_specs("batch_labels", suite),
        description=(
            "Labels of a batch's entities, arriving after the batch, validated against their suite "
            f"(expectations/{LABELS_SUITE}.json); a bad delivery is quarantined. Details: docs/assets.md."
        ),
    )
    def _batch_labels(
        context: dg.AssetExecutionContext, landing_zone: Landing, warehouse: Warehouse, dataset: Dataset
    ) -> Iterator:
        spec = dataset.spec()

        def prepare(con, delivery, frame):
            stored = queries.STORED_LABELS.df(con, batch_id=delivery.batch_id)
            features, known = None, []
            if table_exists(con, "batch_features"):
                features = queries.BATCH_FEATURES_OF.df(con, batch_id=delivery.batch_id)
            if table_exists(con, "stg_batches"):
                known = queries.BATCH_ENTITY_IDS.df(con, batch_id=delivery.batch_id)["entity_id"]
            view = contracts.labels_view(
                frame, spec.id_column, spec.target, stored, features, spec.numeric, spec.categorical
            )
            # the ids the batch lacks, not all it holds: a short list keeps GX fast
            return view, {"unknown_ids": sorted(set(view["entity_id"].dropna()) - set(known))}

        def store(con, delivery, frame, view):
            labels = pd.DataFrame(
                {
                    "batch_id": delivery.batch_id,
                    "entity_id": view["entity_id"],
                    "label": pd.to_numeric(view["label"]).astype(int),
                    "arrived_at": delivery.arrived_at,
                    "source_file": delivery.source_file,
                }
            ).drop_duplicates("entity_id", keep="last")
            replace_rows(con, "labels", labels, "batch_id", delivery.batch_id)

        yield from _take_in(context, "batch_labels", "labels", suite, landing_zone, warehouse, prepare, store)

    return _batch_labels
