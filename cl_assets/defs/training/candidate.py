"""candidate_model: an XGBoost candidate tuned by hyperopt, every trial in MLflow, registered as the challenger."""

import json
from datetime import datetime

import dagster as dg
import pandas as pd
from dagster_mlflow.resources import MlFlow
from pydantic import Field

from cl_assets.defs import tracking
from cl_assets.defs.resources import Compute, Dataset, ModelRegistry, Warehouse
from cl_assets.defs.training.training_set import run_trigger, training_set
from cl_assets.lib import estimation, failpoints, modeling, queries, registry, tuning
from cl_assets.lib.warehouse import append_row, append_rows


class CandidateConfig(dg.Config):
    """The hyperparameter search of a candidate (hyperopt TPE over XGBoost; `lib/tuning.py`)."""

    max_trials: int = Field(default=6, description="Trials, warm-start points included.")
    max_seconds: float = Field(default=120.0, description="Wall-clock budget of the search, in seconds.")
    warm_start: int = Field(
        default=3,
        description="Evaluate the best parameters of the newest K earlier candidates first (0: cold start; "
        "the first search starts from the hand-set defaults).",
    )
    tuning_rows: int = Field(
        default=30000,
        description="The search fits on a seeded sample of at most this many train rows (0: all); the "
        "chosen parameters are then fitted on every train row.",
    )
    parallel: int = Field(
        default=2,
        description="Trials run at once: 2 (each on half of the `compute` resource's threads; on 2 cores the loop's "
        "own search measured 9.4 s against 14.9 s, benchmarks/loop.py) or 1 (XGBoost on every thread: faster on "
        "large all-numeric data). Never more than the threads.",
    )
    early_stopping_rounds: int = Field(default=20, description="The number of trees comes from early stopping.")
    max_rounds: int = Field(default=400, description="Upper bound on the number of trees.")
    seed: int = Field(
        default=0,
        description="Seed of the search, the validation split and XGBoost (plus the `compute` resource's base seed).",
    )
    search: bool = Field(
        default=True,
        description="False: no search; the model is XGBoost with fixed parameters (modeling.NAIVE_PARAMS: 200 trees, "
        "depth 6, learning rate 0.1), what the backtest's fixed:K:ROWS policies train.",
    )
    refit_with_holdout: bool = Field(
        default=True,
        description="Once the model fitted on the train split has been scored on the holdout (what the gate "
        "judges and the calibrator learns from; its scores are kept in holdout_scores), refit it with the same "
        "parameters on train and holdout, and register that: the newest rows, which the holdout is drawn from, "
        "are the ones a drifting stream most needs learned. False: the registered model is the one judged.",
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
    compute: Compute,
) -> dg.MaterializeResult:
    """An XGBoost candidate tuned by hyperopt, every trial an MLflow run, calibrated on its holdout and
    registered as the challenger. Details: docs/assets.md."""
    spec = dataset.spec()
    with warehouse.connect(read_only=True) as con:
        trigger_id = run_trigger(context, con)["trigger_id"]
        version = queries.NEWEST_TRAINING_SET_VERSION.one(con)["version"]
        done = queries.CANDIDATE_OF_TRIGGER.one(con, trigger_id=trigger_id, version=version)
        frame = queries.TRAINING_SET_ROWS.df(con, version=version)
        earlier = [
            json.loads(p) for (p,) in queries.RECENT_CANDIDATE_PARAMS.run(con, count=config.warm_start).fetchall()
        ]
    if done is not None:  # a re-executed run (resumed after a crash): this candidate was made already
        context.log.info(f"candidate v{done['model_version']} of trigger {trigger_id} was recorded already")
        mlflow.end_run()
        with warehouse.connect() as con:  # retrain_trigger wrote its row again: it names the candidate again
            queries.SET_TRIGGER_MODEL.run(con, model_version=done["model_version"], trigger_id=trigger_id)
        return _recorded_candidate(done, model_registry)
    train, holdout = frame[frame["split"] == "train"], frame[frame["split"] == "holdout"]
    try:
        parent = mlflow.active_run().info
        tags = {"cl.trigger_id": trigger_id, "cl.training_set_version": str(version), "cl.dataset": spec.name}
        mlflow.set_tags(tags)
        budget = tuning.Budget(max_trials=config.max_trials, max_seconds=config.max_seconds)
        progress = tracking.TrialLogger(parent.experiment_id, parent.run_id, tags, budget, context.log)
        fit = _fit(train, holdout, spec, config, compute, earlier, (budget, progress), mlflow)
        model_version, run_id = _register(
            context, fit, modeling.inputs(train.head(5), spec), trigger_id, parent.run_id, model_registry, mlflow
        )
        failpoints.reached("registration")  # registered in MLflow, not yet recorded in DuckDB
        mlflow.end_run()
    except Exception:
        mlflow.end_run(status="FAILED")
        raise
    model_registry.set_alias(registry.CHALLENGER, model_version)
    row = {
        "model_version": model_version,
        "registered_model": model_registry.registered_model,
        "mlflow_run_id": run_id,
        "trigger_id": trigger_id,
        "training_set_version": version,
        "params": fit["params"],
        "metrics": fit["metrics"],
        "tuning": fit["summary"],
        "calibrator": fit["calibrator"].to_dict(),
        "trained_at": datetime.now(),
        "dagster_run_id": context.run.run_id,
        "refit_with_holdout": fit["refit"],
    }
    trials = progress.rows(model_version) if config.search else None
    with warehouse.connect() as con:
        _record(con, row, holdout, fit["holdout_scores"], trials)
    return dg.MaterializeResult(metadata=_metadata(row, fit, progress.table() if config.search else None))


def _record(con, row: dict, holdout: pd.DataFrame, holdout_scores, trials: pd.DataFrame | None) -> None:
    """The candidate's holdout scores, its candidate_models row, its trials, and its trigger's model.
    The scores first: a candidate_models row is what makes a candidate, and its scores are there."""
    scored = {"entity_id": holdout["entity_id"].astype(str).to_numpy(), "score": holdout_scores}
    append_rows(con, "holdout_scores", pd.DataFrame(scored).assign(model_version=row["model_version"]))
    append_row(con, "candidate_models", row)
    if trials is not None:
        append_rows(con, "tuning_trials", trials)
    queries.SET_TRIGGER_MODEL.run(con, model_version=row["model_version"], trigger_id=row["trigger_id"])


def _metadata(row: dict, fit: dict, trials: str | None) -> dict:
    calibrator = fit["calibrator"]
    return {
        "model_version": row["model_version"],
        "model_uri": f"models:/{row['registered_model']}/{row['model_version']}",
        "mlflow_run_id": row["mlflow_run_id"],
        "training_set_version": row["training_set_version"],
        "refit_with_holdout": fit["refit"],
        "params": dg.MetadataValue.json(fit["params"]),
        "tuning": dg.MetadataValue.json(fit["summary"]),
        "calibration": dg.MetadataValue.json(
            {
                "holdout_rows": calibrator.rows,
                "error_before": calibrator.error_before,
                "error_after_out_of_fold": calibrator.error_after,
                "identity": calibrator.identity,
            }
        ),
        "trials": dg.MetadataValue.md(trials if trials is not None else "no search (fixed parameters)"),
        **{f"holdout_{k}": v for k, v in fit["metrics"].items() if v is not None},
    }


def _fit(train, holdout, spec, config: CandidateConfig, compute: Compute, earlier: list, search, mlf) -> dict:
    """The search (or the fixed parameters), the model judged on the holdout, the one registered
    (refitted with the holdout), its holdout metrics and calibrator; parameters and metrics logged
    to the candidate's MLflow run. `search`: the tuning budget and its trial logger."""
    budget, progress = search
    refit = config.refit_with_holdout and not holdout.empty
    warm = earlier or ([modeling.DEFAULT_PARAMS] if config.warm_start else [])
    threads = compute.fit_threads
    seed = compute.seeded(config.seed)
    if config.search:
        params, summary = _search(train, spec, config, budget, seed, warm, progress, threads)
    else:
        params = dict(modeling.NAIVE_PARAMS)
        summary = {"trials": 0, "searched": False, "seed": seed, "threads": threads}
    mlf.log_params(
        {
            **params,
            "train_rows": len(train),
            "holdout_rows": len(holdout),
            "refit_with_holdout": refit,
            "trials": summary["trials"],
            "seed": seed,
        }
    )
    judged = modeling.fit(train, spec, params, seed=seed, weight=train["weight"], n_jobs=threads)
    holdout_scores = modeling.scores(judged, holdout, spec)
    if refit:  # the judged model's parameters (trees included) on every row of the training set
        fitted = pd.concat([train, holdout])
        model = modeling.fit(fitted, spec, params, seed=seed, weight=fitted["weight"], n_jobs=threads)
    else:
        model = judged
    metrics = modeling.metrics(holdout["label"], holdout_scores)
    # the map from its scores to probabilities that estimated_performance reads (CBPE), and its error
    calibrator = estimation.fit_calibrator(holdout["label"].astype(int).to_numpy(), holdout_scores, seed=seed)
    searched = (
        {"best_validation_log_loss": summary["best_validation_log_loss"], "tuning_seconds": summary["seconds"]}
        if config.search
        else {}
    )
    mlf.log_metrics(
        {
            **{f"holdout_{k}": v for k, v in metrics.items() if v is not None},
            "holdout_calibrated_error": calibrator.error_after,
            **searched,
        }
    )
    return {
        "params": params,
        "summary": summary,
        "refit": refit,
        "model": model,
        "holdout_scores": holdout_scores,
        "metrics": metrics,
        "calibrator": calibrator,
    }


def _register(context, fit: dict, example, trigger_id: str, run_id: str, model_registry, mlf) -> tuple[int, str]:
    """(model version, MLflow run id) of the registered candidate. A re-executed run finds the version
    its killed attempt registered: the same model (same parameters from the same seed) is adopted,
    another is discarded."""
    uri, name, params = model_registry.tracking_uri, model_registry.registered_model, fit["params"]
    orphan = registry.registered_for(uri, name, trigger_id)
    if orphan is not None and all(orphan.params.get(k) == str(v) for k, v in params.items()):
        registry.untag_version(uri, name, orphan.version)
        mlf.set_tags({"cl.adopted_version": str(orphan.version)})
        context.log.info(f"adopted v{orphan.version}, registered for this trigger by a run that did not finish")
        return orphan.version, orphan.run_id
    if orphan is not None:
        registry.delete_version(uri, name, orphan.version)
    version = registry.log_and_register(fit["model"], example, name, tags={"cl.trigger_id": trigger_id})
    return version, run_id


def _recorded_candidate(row: dict, model_registry: ModelRegistry) -> dg.MaterializeResult:
    """The materialization of a candidate recorded by an earlier attempt of the same run."""
    version = int(row["model_version"])
    return dg.MaterializeResult(
        metadata={
            "model_version": version,
            "model_uri": f"models:/{model_registry.registered_model}/{version}",
            "mlflow_run_id": row["mlflow_run_id"],
            "training_set_version": int(row["training_set_version"]),
            "refit_with_holdout": bool(row["refit_with_holdout"]),
            "params": dg.MetadataValue.json(json.loads(row["params"])),
            "tuning": dg.MetadataValue.json(json.loads(row["tuning"])),
            "resumed": "recorded by an earlier attempt of this run; not trained again",
        }
    )


def _search(train, spec, config: CandidateConfig, budget, seed: int, warm: list, progress, threads: int):
    """hyperopt over XGBoost on a sample of the train rows: the chosen parameters and a summary."""
    searched = train.sample(n=config.tuning_rows, random_state=seed) if 0 < config.tuning_rows < len(train) else train
    result = tuning.tune(
        modeling.encoded(searched, spec),
        searched["label"].astype(int).to_numpy(),
        sample_weight=searched["weight"].to_numpy(),
        budget=budget,
        seed=seed,
        warm_start=warm,
        on_trial=progress,
        cores=threads,
        parallel=min(config.parallel, threads),
        max_rounds=config.max_rounds,
        early_stopping_rounds=config.early_stopping_rounds,
    )
    summary = {
        "trials": len(result.trials),
        "best_trial": result.best.number,
        "best_validation_log_loss": result.best.loss,
        "stopped_by": result.stopped_by,
        "seconds": round(result.seconds, 3),
        "parallel": result.parallel,
        "threads": threads,
        "warm_start": sum(t.warm for t in result.trials),
        "searched_rows": len(searched),
        "seed": seed,
    }
    return tuning.final_params(result), summary


def latest_candidate(con) -> dict:
    row = queries.LATEST_CANDIDATE.one(con)
    if row is None:
        raise dg.Failure("no candidate model yet: materialize candidate_model first")
    return {**row, "metrics": json.loads(row["metrics"])}
