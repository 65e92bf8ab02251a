"""Drift of each batch against the champion's reference, and the champion's realized performance."""

from datetime import datetime

import dagster as dg
import pandas as pd

from cl_assets.defs.deployment.assets import predictions, reference_profile
from cl_assets.defs.partitions import batches
from cl_assets.defs.resources import Dataset, MonitoringPolicy, Warehouse
from cl_assets.lib import drift, markdown, modeling
from cl_assets.lib.warehouse import fetch_df, replace_rows

PREDICTION = "__prediction_score__"


@dg.asset(
    partitions_def=batches,
    deps=["batch_features", predictions, reference_profile],
    group_name="monitoring",
    kinds={"duckdb", "scipy"},
    pool="duckdb",
)
def drift_metrics(
    context: dg.AssetExecutionContext, warehouse: Warehouse, dataset: Dataset, monitoring_policy: MonitoringPolicy
) -> dg.MaterializeResult:
    """Per feature and for the prediction scores: KS or chi-squared, p-value, PSI and the drift verdict against the champion's training window."""
    batch_id = context.partition_key
    spec = dataset.spec()
    with warehouse.connect(read_only=True) as con:
        reference = fetch_df(con, "select * from reference_profile")
        current = fetch_df(
            con,
            "select f.*, p.score from batch_features f join predictions p using (batch_id, entity_id) where batch_id = ?",
            [batch_id],
        )
    thresholds = monitoring_policy.drift_thresholds()
    features = drift.compare(reference, current, spec.numeric, spec.categorical, thresholds)
    scores = drift.compare(reference, current, ["score"], [], thresholds).assign(feature=PREDICTION, kind="prediction")
    frame = pd.concat([features, scores], ignore_index=True).assign(
        batch_id=batch_id, reference_version=int(reference["model_version"].iloc[0]), computed_at=datetime.now()
    )
    with warehouse.connect() as con:
        replace_rows(con, "drift_metrics", frame, "batch_id", batch_id)
    ranked = frame.sort_values("psi", ascending=False)
    return dg.MaterializeResult(
        metadata={
            "batch_id": batch_id,
            "reference_version": int(frame["reference_version"].iloc[0]),
            "drifted_features": dg.MetadataValue.json(ranked.loc[ranked["drifted"], "feature"].tolist()),
            "max_psi": float(ranked["psi"].max()),
            "drift": dg.MetadataValue.md(
                markdown.table(ranked[["feature", "method", "statistic", "p_value", "psi", "drifted"]])
            ),
        }
    )


@dg.asset(
    partitions_def=batches,
    deps=[predictions, "batch_labels"],
    group_name="monitoring",
    kinds={"duckdb"},
    pool="duckdb",
    automation_condition=dg.AutomationCondition.eager(),
)
def batch_performance(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """The champion's realized accuracy, ROC AUC and log loss on a batch once its labels arrive (prequential: scored before the labels existed)."""
    batch_id = context.partition_key
    with warehouse.connect(read_only=True) as con:
        scored = fetch_df(
            con,
            "select p.slice, p.score, p.model_version, l.label from predictions p "
            "join labels l using (batch_id, entity_id) where batch_id = ?",
            [batch_id],
        )
    if scored.empty:
        raise dg.Failure(f"batch '{batch_id}': no prediction matches a label id")
    by_slice = modeling.metrics_by_slice(scored)
    version = int(scored["model_version"].iloc[0])
    frame = pd.DataFrame([{"slice": k, **v} for k, v in by_slice.items()]).assign(
        batch_id=batch_id, model_version=version, computed_at=datetime.now()
    )
    with warehouse.connect() as con:
        replace_rows(con, "batch_performance", frame, "batch_id", batch_id)
    overall = by_slice[modeling.OVERALL]
    return dg.MaterializeResult(
        metadata={
            "batch_id": batch_id,
            "model_version": version,
            "accuracy": overall["accuracy"],
            "roc_auc": overall["roc_auc"] if overall["roc_auc"] is not None else float("nan"),
            "log_loss": overall["log_loss"],
            "labeled_rows": overall["rows"],
            "by_slice": dg.MetadataValue.md(
                markdown.table(frame[["slice", "rows", "accuracy", "roc_auc", "log_loss"]])
            ),
        }
    )
