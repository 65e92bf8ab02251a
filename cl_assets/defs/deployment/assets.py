"""The champion: promoted through the gate, profiled for drift, scoring every new batch."""

from datetime import datetime

import dagster as dg
import pandas as pd

from cl_assets.defs.deployment.champion import current
from cl_assets.defs.evaluation.checks import latest_decision
from cl_assets.defs.partitions import batches
from cl_assets.defs.resources import Dataset, ModelRegistry, Warehouse
from cl_assets.lib import modeling, registry
from cl_assets.lib.warehouse import append_row, fetch_df, fetch_one, replace_rows


@dg.asset(deps=["evaluation_report"], group_name="deployment", kinds={"mlflow", "duckdb"}, pool="duckdb")
def champion_model(
    context: dg.AssetExecutionContext, warehouse: Warehouse, model_registry: ModelRegistry
) -> dg.MaterializeResult:
    """The model version serving predictions: the candidate of a passing gate, marked with MLflow's 'champion' alias."""
    with warehouse.connect(read_only=True) as con:
        decision = latest_decision(con)
        previous = current(con)
        candidate = fetch_one(
            con, "select * from candidate_models where model_version = ?", [decision["candidate_version"]]
        )
        holdout = fetch_one(
            con,
            "select accuracy, roc_auc from evaluation_reports where report_id = ? and model_role = 'candidate' and slice = ?",
            [decision["report_id"], modeling.OVERALL],
        )
    if not decision["passed"]:
        raise dg.Failure(
            f"model version {decision['candidate_version']} did not pass the promotion gate ({decision['report_id']})"
        )
    version = int(decision["candidate_version"])
    model_registry.set_alias(registry.CHAMPION, version)
    reason = "first model" if previous is None else f"passed the gate against version {int(previous['model_version'])}"
    with warehouse.connect() as con:
        append_row(
            con,
            "champion_history",
            {
                "model_version": version,
                "promoted_at": datetime.now(),
                "previous_version": None if previous is None else int(previous["model_version"]),
                "reason": reason,
                "report_id": decision["report_id"],
                "trigger_id": candidate["trigger_id"],
                "training_set_version": int(candidate["training_set_version"]),
                "holdout_accuracy": float(holdout["accuracy"]),
                "holdout_roc_auc": float(holdout["roc_auc"]),
                "dagster_run_id": context.run.run_id,
            },
        )
        con.execute("update retrain_triggers set promoted = true where trigger_id = ?", [candidate["trigger_id"]])
    return dg.MaterializeResult(
        metadata={
            "model_version": version,
            "model_uri": f"models:/{model_registry.registered_model}@{registry.CHAMPION}",
            "previous_version": 0 if previous is None else int(previous["model_version"]),
            "reason": reason,
            "report_id": decision["report_id"],
            "trigger_id": candidate["trigger_id"],
            "holdout_roc_auc": float(holdout["roc_auc"]),
            "holdout_accuracy": float(holdout["accuracy"]),
        }
    )


@dg.asset(deps=[champion_model], group_name="deployment", kinds={"duckdb"}, pool="duckdb")
def reference_profile(
    context: dg.AssetExecutionContext, warehouse: Warehouse, dataset: Dataset, model_registry: ModelRegistry
) -> dg.MaterializeResult:
    """The champion's training window and its scores on it: what drift of each new batch is measured against."""
    spec = dataset.spec()
    with warehouse.connect(read_only=True) as con:
        champion = current(con)
        rows = fetch_df(con, "select * from training_sets where version = ?", [int(champion["training_set_version"])])
    version = int(champion["model_version"])
    profile = rows.drop(columns=["version", "split", "label"]).assign(
        score=modeling.scores(model_registry.load(version), rows, spec), model_version=version
    )
    with warehouse.connect() as con:
        con.register("_profile", profile)
        con.execute("create or replace table reference_profile as select * from _profile")
    return dg.MaterializeResult(
        metadata={
            "model_version": version,
            "training_set_version": int(champion["training_set_version"]),
            "dagster/row_count": len(profile),
            "batches": dg.MetadataValue.json(sorted(profile["batch_id"].unique().tolist())),
        }
    )


@dg.asset(
    partitions_def=batches,
    deps=["batch_features", champion_model],
    group_name="deployment",
    kinds={"duckdb", "xgboost"},
    pool="duckdb",
    output_required=False,
)
def predictions(
    context: dg.AssetExecutionContext, warehouse: Warehouse, dataset: Dataset, model_registry: ModelRegistry
):
    """The champion's scores for each row of a batch, made when the batch lands, before its labels exist."""
    batch_id = context.partition_key
    spec = dataset.spec()
    with warehouse.connect(read_only=True) as con:
        champion = current(con)
        if champion is None:
            context.log.info(
                f"batch '{batch_id}' is not scored: no champion yet (the first model trains once labels arrive)"
            )
            return
        features = fetch_df(con, "select * from batch_features where batch_id = ?", [batch_id])
    version = int(champion["model_version"])
    score = modeling.scores(model_registry.load(version), features, spec)
    frame = pd.DataFrame(
        {
            "batch_id": batch_id,
            "entity_id": features["entity_id"],
            "slice": features["slice"],
            "score": score,
            "predicted": (score >= 0.5).astype(int),
            "model_version": version,
            "scored_at": datetime.now(),
        }
    )
    with warehouse.connect() as con:
        replace_rows(con, "predictions", frame, "batch_id", batch_id)
    yield dg.MaterializeResult(
        metadata={
            "batch_id": batch_id,
            "model_version": version,
            "dagster/row_count": len(frame),
            "mean_score": float(score.mean()) if len(score) else 0.0,
        }
    )
