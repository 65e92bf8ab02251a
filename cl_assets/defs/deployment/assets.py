"""The champion: promoted through the gate, profiled for drift, scoring every new batch."""

from datetime import datetime

import dagster as dg
import pandas as pd
from pydantic import Field

from cl_assets.defs.deployment.champion import current
from cl_assets.defs.evaluation.checks import latest_decision
from cl_assets.defs.partitions import batches
from cl_assets.defs.resources import Dataset, ModelRegistry, Warehouse
from cl_assets.lib import drift, modeling, reference, registry
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


class ReferenceConfig(dg.Config):
    """Leave empty to profile the champion's training window; fill `accept_drift_reason` to
    accept the drift of the newest batches instead: they become the reference, without retraining."""

    accept_drift_reason: str = Field(
        default="", description="Why the drift is accepted (required to re-baseline; recorded with who and when)."
    )
    accepted_by: str = Field(default="", description="Who accepts it (defaults to the run's user tag).")
    batches: int = Field(default=3, description="With accept_drift_reason: how many of the newest scored batches.")


@dg.asset(deps=[champion_model], group_name="deployment", kinds={"duckdb"}, pool="duckdb")
def reference_profile(
    context: dg.AssetExecutionContext,
    config: ReferenceConfig,
    warehouse: Warehouse,
    dataset: Dataset,
    model_registry: ModelRegistry,
) -> dg.MaterializeResult:
    """What the drift of each batch is measured against, computed once: per column and slice, the
    sorted values, decile bins, category counts and a noise band, plus a row sample for the
    whole-table test. Built from the champion's training window when a champion is promoted, or
    from the newest scored batches when a person accepts drift (an audited re-baseline:
    config `accept_drift_reason`, or `cl accept-drift --reason ...`)."""
    spec = dataset.spec()
    accepting = bool(config.accept_drift_reason.strip())
    with warehouse.connect(read_only=True) as con:
        champion = current(con)
        if champion is None:
            raise dg.Failure("no champion yet: the reference profile is the champion's; train one first")
        version = int(champion["model_version"])
        if accepting:
            newest = [
                r[0]
                for r in con.execute(
                    "select batch_id from predictions where model_version = ? group by batch_id "
                    "order by max(scored_at) desc limit ?",
                    [version, config.batches],
                ).fetchall()
            ]
            if not newest:
                raise dg.Failure(f"no batch scored by champion version {version} yet: there is no drift to accept")
            rows = fetch_df(
                con,
                "select f.*, p.score from batch_features f join predictions p using (batch_id, entity_id) "
                "where f.batch_id in (select unnest(?::varchar[])) order by f.batch_id, f.entity_id",
                [newest],
            )
        else:
            rows = fetch_df(
                con,
                "select * from training_sets where version = ? order by batch_id, entity_id",
                [int(champion["training_set_version"])],
            )
        previous = reference.current_id(con)
    profile_id = (previous or 0) + 1
    if not accepting:
        rows = rows.assign(score=modeling.scores(model_registry.load(version), rows, spec))
    profiles = reference.build(rows, spec.numeric, spec.categorical, "score", "slice")
    batch_ids = sorted(rows["batch_id"].unique().tolist())
    who = config.accepted_by or context.run.tags.get("cl/accepted_by") or context.run.tags.get("user", "")
    baseline = {
        "model_version": version,
        "source": "accepted_drift" if accepting else "champion",
        "reason": config.accept_drift_reason.strip() if accepting else f"champion version {version} promoted",
        "accepted_by": who if accepting else None,
        "batches": batch_ids,
        "rows": len(rows),
        "dagster_run_id": context.run.run_id,
    }
    with warehouse.connect() as con:
        reference.store(con, profile_id, baseline, profiles, reference.sample_rows(rows[spec.features]))
    return dg.MaterializeResult(
        metadata={
            "profile_id": profile_id,
            "previous_profile_id": previous or 0,
            "model_version": version,
            "source": baseline["source"],
            "reason": baseline["reason"],
            "accepted_by": baseline["accepted_by"] or "",
            "dagster/row_count": len(rows),
            "batches": dg.MetadataValue.json(batch_ids),
            "columns_profiled": len({p.feature for p in profiles}),
            "slices": dg.MetadataValue.json(sorted({p.slice for p in profiles} - {drift.ALL})),
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
