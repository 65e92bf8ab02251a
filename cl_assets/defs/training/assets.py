"""Retraining: why it runs, what it learns from, and the candidate it produces."""

import json
from datetime import datetime

import dagster as dg
from dagster_mlflow.resources import MlFlow
from pydantic import Field

from cl_assets.defs.resources import Dataset, ModelRegistry, Warehouse
from cl_assets.lib import markdown, modeling, registry, triggers
from cl_assets.lib.warehouse import append_row, fetch_df, fetch_one, query, replace_rows


class TrainingSetConfig(dg.Config):
    window_batches: int = Field(default=4, description="Train on the newest K labeled batches; 0 uses all history.")
    holdout_batches: int = Field(default=2, description="The holdout is drawn from the newest N labeled batches.")
    holdout_fraction: float = Field(default=0.3, description="Share of those batches' rows held out, per slice.")
    seed: int = Field(default=0, description="Seed of the holdout sample.")


class CandidateConfig(dg.Config):
    n_estimators: int = Field(default=modeling.DEFAULT_PARAMS["n_estimators"], description="Boosting rounds.")
    max_depth: int = Field(default=modeling.DEFAULT_PARAMS["max_depth"], description="Maximum tree depth.")
    learning_rate: float = Field(default=modeling.DEFAULT_PARAMS["learning_rate"], description="Shrinkage.")
    seed: int = Field(default=0, description="XGBoost random state.")


@dg.asset(group_name="training", kinds={"duckdb"}, pool="duckdb")
def retrain_trigger(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Why this retrain runs: the trigger (drift check, schedule, bootstrap, manual) and its evidence."""
    record = triggers.from_tags(context.run.tags, context.run.run_id)
    with warehouse.connect() as con:
        con.execute("delete from retrain_triggers where trigger_id = ?", [record["trigger_id"]])
        append_row(
            con, "retrain_triggers", {**record, "triggered_at": datetime.now(), "dagster_run_id": context.run.run_id}
        )
    return dg.MaterializeResult(
        metadata={
            "trigger_id": record["trigger_id"],
            "kind": record["kind"],
            "reason": record["reason"],
            "check": record["check_name"] or "",
            "batch_id": record["batch_id"] or "",
            "evidence": dg.MetadataValue.json(record["evidence"]),
        }
    )


@dg.asset(
    deps=[retrain_trigger, "batch_features", "batch_labels"],
    group_name="training",
    kinds={"duckdb", "pandas"},
    pool="duckdb",
)
def training_set(
    context: dg.AssetExecutionContext, config: TrainingSetConfig, warehouse: Warehouse, dataset: Dataset
) -> dg.MaterializeResult:
    """A versioned training set: the newest labeled batches, with a slice-stratified holdout."""
    trigger_id = triggers.from_tags(context.run.tags, context.run.run_id)["trigger_id"]
    with warehouse.connect() as con:
        frame = fetch_df(con, query("labeled_features"), {"window_batches": config.window_batches})
    if frame.empty:
        raise dg.Failure("no labeled rows yet: a training set needs batches whose labels have arrived")
    recent = frame[frame["recency"] <= config.holdout_batches]
    holdout = recent.groupby("slice", group_keys=False).sample(frac=config.holdout_fraction, random_state=config.seed)
    frame["split"] = "train"
    frame.loc[holdout.index, "split"] = "holdout"
    batches = sorted(frame["batch_id"].unique().tolist())
    with warehouse.connect() as con:
        version = con.execute("select coalesce(max(version), 0) + 1 from training_set_versions").fetchall()[0][0]
        frame.insert(0, "version", version)
        replace_rows(con, "training_sets", frame.drop(columns=["recency"]), "version", version)
        counts = frame.groupby("split").size().to_dict()
        append_row(
            con,
            "training_set_versions",
            {
                "version": version,
                "created_at": datetime.now(),
                "trigger_id": trigger_id,
                "dagster_run_id": context.run.run_id,
                "batches": batches,
                "rows_train": counts.get("train", 0),
                "rows_holdout": counts.get("holdout", 0),
                "recipe": config.model_dump(),
            },
        )
        con.execute("update retrain_triggers set training_set_version = ? where trigger_id = ?", [version, trigger_id])
    by_slice = frame.groupby(["slice", "split"]).size().unstack(fill_value=0)
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "dagster/row_count": len(frame),
            "rows_train": int(counts.get("train", 0)),
            "rows_holdout": int(counts.get("holdout", 0)),
            "batches": dg.MetadataValue.json(batches),
            "recipe": dg.MetadataValue.json(config.model_dump()),
            "rows_by_slice": dg.MetadataValue.md(markdown.table(by_slice, index=True)),
        }
    )


@dg.asset(
    deps=[training_set],
    group_name="training",
    kinds={"xgboost", "mlflow"},
    pool="duckdb",
)
def candidate_model(
    context: dg.AssetExecutionContext,
    config: CandidateConfig,
    warehouse: Warehouse,
    dataset: Dataset,
    model_registry: ModelRegistry,
    mlflow: dg.ResourceParam[MlFlow],
) -> dg.MaterializeResult:
    """An XGBoost candidate trained on the training set, logged to MLflow and registered as a new version."""
    spec = dataset.spec()
    trigger_id = triggers.from_tags(context.run.tags, context.run.run_id)["trigger_id"]
    with warehouse.connect(read_only=True) as con:
        version = con.execute("select max(version) from training_set_versions").fetchall()[0][0]
        frame = fetch_df(con, "select * from training_sets where version = ?", [version])
    train, holdout = frame[frame["split"] == "train"], frame[frame["split"] == "holdout"]
    params = {**modeling.DEFAULT_PARAMS, **config.model_dump(exclude={"seed"})}
    mlf = mlflow
    try:
        mlf.set_tags({"cl.trigger_id": trigger_id, "cl.training_set_version": str(version), "cl.dataset": spec.name})
        mlf.log_params({**params, "train_rows": len(train), "holdout_rows": len(holdout)})
        model = modeling.fit(train, spec, params, seed=config.seed)
        holdout_metrics = modeling.metrics(holdout["label"], modeling.scores(model, holdout, spec))
        mlf.log_metrics({f"holdout_{k}": v for k, v in holdout_metrics.items() if v is not None})
        example = modeling.inputs(train.head(5), spec)
        model_version = registry.log_and_register(model, example, model_registry.registered_model)
        run_id = mlf.active_run().info.run_id
        mlf.end_run()
    except Exception:
        mlf.end_run(status="FAILED")
        raise
    model_registry.set_alias(registry.CHALLENGER, model_version)
    with warehouse.connect() as con:
        append_row(
            con,
            "candidate_models",
            {
                "model_version": model_version,
                "registered_model": model_registry.registered_model,
                "mlflow_run_id": run_id,
                "trigger_id": trigger_id,
                "training_set_version": version,
                "params": params,
                "metrics": holdout_metrics,
                "trained_at": datetime.now(),
                "dagster_run_id": context.run.run_id,
            },
        )
        con.execute("update retrain_triggers set model_version = ? where trigger_id = ?", [model_version, trigger_id])
    return dg.MaterializeResult(
        metadata={
            "model_version": model_version,
            "model_uri": f"models:/{model_registry.registered_model}/{model_version}",
            "mlflow_run_id": run_id,
            "training_set_version": version,
            "params": dg.MetadataValue.json(params),
            **{f"holdout_{k}": v for k, v in holdout_metrics.items() if v is not None},
        }
    )


def latest_candidate(con) -> dict:
    row = fetch_one(con, "select * from candidate_models order by trained_at desc limit 1")
    if row is None:
        raise dg.Failure("no candidate model yet: materialize candidate_model first")
    return {**row, "metrics": json.loads(row["metrics"])}
