"""Retraining: why it runs, what it learns from, and the candidate it produces."""

import json
from datetime import datetime

import dagster as dg
import pandas as pd
from dagster_mlflow.resources import MlFlow
from pydantic import Field

from cl_assets.defs import tracking
from cl_assets.defs.resources import Compute, Dataset, ModelRegistry, Warehouse
from cl_assets.defs.triggers.assets import retrain_trigger
from cl_assets.lib import composition, estimation, failpoints, markdown, modeling, registry, triggers, tuning, windows
from cl_assets.lib.champion import champion_for, learned_ids
from cl_assets.lib.warehouse import append_row, append_rows, fetch_df, fetch_one, query, replace_rows

RECIPE = composition.Recipe()  # the defaults of TrainingSetConfig
# The trigger kind that restarts the window (TrainingSetConfig.restart_on_decay): decay alone, the
# inputs steady, is the concept changing. When drift fired with it, the inputs moved too, and the
# window's older batches may still hold the concept (docs/retrain-policies.md: restarting then cost
# a rejected candidate and a later retrain).
DECAY = "performance_check"


class TrainingSetConfig(dg.Config):
    """The recipe of a training set (`lib/composition.py`); recorded with every version."""

    window: str = Field(
        default=RECIPE.window,
        description="auto: chosen by time-ordered validation on the newest labeled batch among that batch alone, the "
        "newest 2, 4, 8, 16 batches, all, and all with a half-life of 4 batches (lib/windows.py; the candidates and their scores "
        "are recorded in training_set_versions.window_choice); all: every labeled batch; last: the newest "
        "window_batches, rows weigh 1; sliding: the "
        "newest window_batches, a row's weight halving every half_life_batches back; rows: the newest window_rows "
        "labeled rows, rows weigh 1 (the backtest's fixed:K:ROWS policies).",
    )
    window_rows: int = Field(default=RECIPE.window_rows, description="rows: how many of the newest labeled rows.")
    window_batches: int = Field(
        default=RECIPE.window_batches, description="last / sliding: how many of the newest labeled batches."
    )
    half_life_batches: float = Field(
        default=RECIPE.half_life_batches, description="sliding: batches over which a row's weight halves."
    )
    balance: str = Field(
        default=RECIPE.balance,
        description="none | weights (both labels weigh the same in total) | upsample (repeat rows of the rarer "
        "label) | downsample (keep as many of the commoner label as the rarer has). Train split only.",
    )
    holdout_batches: int = Field(
        default=RECIPE.holdout_batches, description="The holdout is drawn from the newest N labeled batches."
    )
    holdout_fraction: float = Field(
        default=RECIPE.holdout_fraction, description="Share of those batches' rows held out, per slice."
    )
    min_holdout_rows: int = Field(
        default=RECIPE.min_holdout_rows,
        description="Per slice, hold out at least this many rows (never more than half the slice's recent rows); "
        "a slice left with fewer is reported, and the gate refuses to judge it.",
    )
    seed: int = Field(
        default=RECIPE.seed,
        description="Seed of the holdout draw and of up/down-sampling (plus the `compute` resource's base seed).",
    )
    restart_on_decay: bool = Field(
        default=RECIPE.restart_on_decay,
        description="When performance decay alone triggered the retrain (no drift fired with it), learn only from "
        "the batch whose labels showed the decay onward: the rest of the window holds the concept the champion "
        "failed on. Later retrains reach no further back than that batch while the champion learned from it "
        "(training_set_versions.window_floor). False: the window as configured, whatever the trigger.",
    )


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
    deps=[retrain_trigger, "batch_features", "batch_labels"],
    group_name="training",
    kinds={"duckdb", "pandas"},
    pool="duckdb",
)
def training_set(
    context: dg.AssetExecutionContext,
    config: TrainingSetConfig,
    warehouse: Warehouse,
    dataset: Dataset,
    compute: Compute,
):
    """A versioned training set composed by a recorded recipe: labeled rows (labels that arrived
    late joined by id), one row per id (the newest delivery), a window of batches (all, last K, or
    sliding with recency weights), class balancing of the train split, and a holdout stratified by
    slice with a minimum of rows per slice. The holdout never takes a row the current champion
    learned from (`kept_from_holdout` counts them), so the gate judges both models on rows neither
    has seen. A retrain that performance decay alone triggered learns only from the batch whose
    labels showed the decay onward (`restart_on_decay`; metadata and column `restarted_at`), and
    later retrains reach no further back while the champion's window starts there (`window_floor`:
    the concept before the decay stays out). Stored in
    `training_sets` with `split` and `weight`; the recipe records the window and the seed used
    (the config's plus the `compute` resource's base seed)."""
    try:
        recipe = composition.Recipe(**{**config.model_dump(), "seed": compute.seeded(config.seed)}).validate()
    except ValueError as exc:
        raise dg.Failure(f"training set recipe: {exc}") from None
    with warehouse.connect(read_only=True) as con:
        trigger = _trigger(context, con)
        trigger_id = trigger["trigger_id"]
        labeled = fetch_df(con, query("labeled_features"), {"window_batches": 0, "also_batches": []})
        champion = champion_for(con, trigger_id)
        champion_version = champion["model_version"] if champion else None
        learned = learned_ids(con, champion)
        inherited = _window_floor(con, champion)
        own = fetch_one(con, query("champion_recipe"), [champion_version]) if champion else None
        # refit_impact fitted the same candidates with the same parameters when the newest labels arrived
        newest = labeled.loc[labeled["recency"] == labeled["recency"].min(), "batch_id"] if len(labeled) else []
        priced = fetch_df(
            con,
            "select window_name, window_batches, train_rows, accuracy, log_loss, chosen from refit_candidates "
            "where batch_id = ? and model_version = ? order by train_rows",
            [str(newest.iloc[0]) if len(newest) else "", champion_version],
        )
    params = (
        (json.loads(own["params"]), f"model version {champion_version}'s")
        if own
        else (modeling.DEFAULT_PARAMS, "the default")
    )
    if labeled.empty:
        raise dg.Failure("no labeled rows yet: a training set needs batches whose labels have arrived")
    # The window starts no earlier than the batch of a restart on decay: this retrain's, or the one
    # the champion's window was cut at (a later retrain would otherwise learn the old concept again).
    kinds = set((trigger["kind"] or "").split("+"))
    decayed = trigger["batch_id"] if DECAY in kinds and "drift_check" not in kinds else None
    floor = (decayed or inherited) if recipe.restart_on_decay else None
    choice = None
    if recipe.window == "auto":
        if floor is None and priced["chosen"].any():
            recipe, choice = _priced_window(labeled, recipe, priced, params[1])
        else:
            recipe, choice = _chosen_window(labeled, recipe, floor, params, dataset.spec(), compute)
        context.log.info(f"window: {choice['reason']}")
    restarted_at = ""
    if floor:
        recency = labeled.loc[labeled["batch_id"] == floor, "recency"]
        cut = composition.restarted(recipe, int(recency.min()) if len(recency) else None)
        if cut != recipe:
            recipe = cut
            if decayed:
                restarted_at = decayed
                context.log.info(
                    f"performance decay on {decayed} triggered this retrain: the window starts there "
                    f"({recipe.window_batches} labeled batch(es); restart_on_decay)"
                )
            else:
                context.log.info(
                    f"the champion's window was restarted at {floor} on performance decay: this window starts "
                    f"there too ({recipe.window_batches} labeled batch(es)), not in the concept before it"
                )
    try:
        composed = composition.compose(labeled, recipe, learned)
    except ValueError as exc:
        raise dg.Failure(f"training set recipe: {exc}") from None
    frame = composed.frame
    counts = frame.groupby("split").size().to_dict()
    batches = sorted(frame["batch_id"].unique().tolist())
    with warehouse.connect() as con:
        # a re-executed run (resumed after a crash) composes its trigger's version again, in place
        version = fetch_one(
            con, "select max(version) as v from training_set_versions where trigger_id = ?", [trigger_id]
        )["v"]
        if version is None:
            version = con.execute("select coalesce(max(version), 0) + 1 from training_set_versions").fetchall()[0][0]
        con.execute("delete from training_set_versions where version = ?", [version])
        frame.insert(0, "version", version)
        replace_rows(con, "training_sets", frame, "version", version)
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
                "recipe": composed.recipe,
                "duplicates_removed": composed.duplicates_removed,
                "short_slices": composed.short_slices,
                "class_balance": composed.class_balance,
                "champion_version": champion_version,
                "kept_from_holdout": composed.kept_from_holdout,
                "restarted_at": restarted_at or None,
                "window_floor": floor,
                "window_choice": choice,
            },
        )
        con.execute("update retrain_triggers set training_set_version = ? where trigger_id = ?", [version, trigger_id])
    if composed.short_slices:
        context.log.warning(
            f"training set v{version}: slices with fewer than {recipe.min_holdout_rows} holdout rows: "
            f"{composed.short_slices}; the gate will refuse to judge them"
        )
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "dagster/row_count": len(frame),
            "rows_train": int(counts.get("train", 0)),
            "rows_holdout": int(counts.get("holdout", 0)),
            "duplicates_removed": composed.duplicates_removed,
            "batches": dg.MetadataValue.json(batches),
            "recipe": dg.MetadataValue.json(composed.recipe),
            "short_slices": dg.MetadataValue.json(composed.short_slices),
            "class_balance": dg.MetadataValue.json(composed.class_balance),
            "champion_version": champion_version or 0,
            "kept_from_holdout": composed.kept_from_holdout,
            "restarted_at": restarted_at,
            "window_floor": floor or "",
            "window_choice": dg.MetadataValue.json(choice or {"chosen": recipe.window, "reason": "set by the config"}),
            "rows_by_slice": dg.MetadataValue.md(markdown.table(composed.rows_by_slice, index=True)),
            "rows_by_batch": dg.MetadataValue.md(markdown.table(composed.rows_by_batch, index=True)),
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
    compute: Compute,
) -> dg.MaterializeResult:
    """An XGBoost candidate tuned by hyperopt (TPE; the number of trees by early stopping), warm-
    started from the best parameters of earlier candidates, trained on the training set's train
    split with its weights. One MLflow run per candidate (tagged with the Dagster run, trigger and
    training-set version), one nested run per trial; the chosen model is logged with a signature
    and an input example, registered, and marked 'challenger'. Trials are also kept in `tuning_trials`.
    Its scores are calibrated on the holdout (isotonic, `lib/estimation.py`; kept in
    `candidate_models.calibrator` with the calibration error before and, out of fold, after) for
    estimated_performance's label-free estimates. The holdout's scores, which the gate judges, are
    kept in `holdout_scores`; the model registered is then refitted with the same parameters on
    train and holdout (`refit_with_holdout`), so it also learns the newest rows."""
    spec = dataset.spec()
    with warehouse.connect(read_only=True) as con:
        trigger_id = _trigger(context, con)["trigger_id"]
        version = con.execute("select max(version) from training_set_versions").fetchall()[0][0]
        done = fetch_one(
            con,
            "select * from candidate_models where trigger_id = ? and training_set_version = ?",
            [trigger_id, version],
        )
        frame = fetch_df(con, "select * from training_sets where version = ?", [version])
        earlier = [
            json.loads(r[0])
            for r in con.execute(
                "select params from candidate_models order by trained_at desc limit ?", [config.warm_start]
            ).fetchall()
        ]
    if done is not None:  # a re-executed run (resumed after a crash): this candidate was made already
        context.log.info(f"candidate v{done['model_version']} of trigger {trigger_id} was recorded already")
        mlflow.end_run()
        with warehouse.connect() as con:  # retrain_trigger wrote its row again: it names the candidate again
            con.execute(
                "update retrain_triggers set model_version = ? where trigger_id = ?",
                [done["model_version"], trigger_id],
            )
        return _recorded_candidate(done, model_registry)
    train, holdout = frame[frame["split"] == "train"], frame[frame["split"] == "holdout"]
    refit = config.refit_with_holdout and not holdout.empty
    warm = earlier or ([modeling.DEFAULT_PARAMS] if config.warm_start else [])
    budget = tuning.Budget(max_trials=config.max_trials, max_seconds=config.max_seconds)
    threads = compute.fit_threads
    seed = compute.seeded(config.seed)
    mlf = mlflow
    try:
        parent = mlf.active_run().info
        tags = {"cl.trigger_id": trigger_id, "cl.training_set_version": str(version), "cl.dataset": spec.name}
        mlf.set_tags(tags)
        progress = tracking.TrialLogger(parent.experiment_id, parent.run_id, tags, budget, context.log)
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
        holdout_metrics = modeling.metrics(holdout["label"], holdout_scores)
        # the map from its scores to probabilities that estimated_performance reads (CBPE), and its error
        calibrator = estimation.fit_calibrator(holdout["label"].astype(int).to_numpy(), holdout_scores, seed=seed)
        mlf.log_metrics(
            {
                **{f"holdout_{k}": v for k, v in holdout_metrics.items() if v is not None},
                "holdout_calibrated_error": calibrator.error_after,
                **(
                    {
                        "best_validation_log_loss": summary["best_validation_log_loss"],
                        "tuning_seconds": summary["seconds"],
                    }
                    if config.search
                    else {}
                ),
            }
        )
        example = modeling.inputs(train.head(5), spec)
        # a re-executed run finds the version its killed attempt registered: the same model (same
        # parameters from the same seed) is adopted, another is discarded
        orphan = registry.registered_for(model_registry.tracking_uri, model_registry.registered_model, trigger_id)
        if orphan is not None and all(orphan.params.get(k) == str(v) for k, v in params.items()):
            model_version, run_id = orphan.version, orphan.run_id
            registry.untag_version(model_registry.tracking_uri, model_registry.registered_model, model_version)
            mlf.set_tags({"cl.adopted_version": str(model_version)})
            context.log.info(f"adopted v{model_version}, registered for this trigger by a run that did not finish")
        else:
            if orphan is not None:
                registry.delete_version(model_registry.tracking_uri, model_registry.registered_model, orphan.version)
            model_version = registry.log_and_register(
                model, example, model_registry.registered_model, tags={"cl.trigger_id": trigger_id}
            )
            run_id = parent.run_id
        failpoints.reached("registration")  # registered in MLflow, not yet recorded in DuckDB
        mlf.end_run()
    except Exception:
        mlf.end_run(status="FAILED")
        raise
    model_registry.set_alias(registry.CHALLENGER, model_version)
    with warehouse.connect() as con:
        # the scores first: a candidate_models row is what makes a candidate, and its scores are there
        scored = {"entity_id": holdout["entity_id"].astype(str).to_numpy(), "score": holdout_scores}
        append_rows(con, "holdout_scores", pd.DataFrame(scored).assign(model_version=model_version))
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
                "tuning": summary,
                "calibrator": calibrator.to_dict(),
                "trained_at": datetime.now(),
                "dagster_run_id": context.run.run_id,
                "refit_with_holdout": refit,
            },
        )
        if config.search:
            append_rows(con, "tuning_trials", progress.rows(model_version))
        con.execute("update retrain_triggers set model_version = ? where trigger_id = ?", [model_version, trigger_id])
    return dg.MaterializeResult(
        metadata={
            "model_version": model_version,
            "model_uri": f"models:/{model_registry.registered_model}/{model_version}",
            "mlflow_run_id": run_id,
            "training_set_version": version,
            "refit_with_holdout": refit,
            "params": dg.MetadataValue.json(params),
            "tuning": dg.MetadataValue.json(summary),
            "calibration": dg.MetadataValue.json(
                {
                    "holdout_rows": calibrator.rows,
                    "error_before": calibrator.error_before,
                    "error_after_out_of_fold": calibrator.error_after,
                    "identity": calibrator.identity,
                }
            ),
            "trials": dg.MetadataValue.md(progress.table() if config.search else "no search (fixed parameters)"),
            **{f"holdout_{k}": v for k, v in holdout_metrics.items() if v is not None},
        }
    )


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


def _trigger(context: dg.AssetExecutionContext, con) -> dict:
    """The trigger this run recorded (retrain_trigger, which may have taken an approved one's): its
    trigger_id, kind and batch_id. When the run recorded none (e.g. training_set materialized
    alone), the id comes from the run's tags, and kind and batch from retrain_triggers if it is
    there (else None)."""
    columns = "select trigger_id, kind, batch_id from retrain_triggers"
    row = fetch_one(con, f"{columns} where dagster_run_id = ? order by triggered_at desc limit 1", [context.run.run_id])
    if row:
        return row
    trigger_id = triggers.from_tags(context.run.tags, context.run.run_id)["trigger_id"]
    return fetch_one(con, f"{columns} where trigger_id = ?", [trigger_id]) or {
        "trigger_id": trigger_id,
        "kind": None,
        "batch_id": None,
    }


def _chosen_window(labeled, recipe, floor: str | None, params: tuple[dict, str], spec, compute: Compute):
    """Window 'auto': the candidate windows fitted with the champion's parameters (the defaults
    before there is one) on every labeled batch since the floor but the newest, scored on the
    newest (`lib/windows.py`); the recipe with the chosen one, and the record of the choice."""
    if floor and floor in set(labeled["batch_id"]):
        labeled = labeled[labeled["recency"] <= int(labeled.loc[labeled["batch_id"] == floor, "recency"].min())]
    history, newest = windows.split_newest(labeled)
    values, whose = params
    scores = windows.validate(history, newest, spec, values, seed=compute.seed, n_jobs=compute.fit_threads)
    count = labeled["batch_id"].nunique()
    if not scores:
        window = windows.Window("all", None)
        reason = (
            "nothing to validate on (no labeled batch with both labels before the newest"
            + (f" since the floor {floor}" if floor else "")
            + "): every labeled batch"
        )
        return window.recipe(recipe, count), {"chosen": window.name, "reason": reason, "candidates": []}
    chosen = windows.choose(scores)
    validated_on = str(newest["batch_id"].iloc[0])
    reason = (
        f"'{chosen.window.name}' had the lowest log loss ({chosen.log_loss:.4f}) on {validated_on} of "
        f"{len(scores)} candidate windows fitted with {whose} parameters on the batches before it "
        "(ties go to the one with fewer rows)"
    )
    record = {
        "chosen": chosen.window.name,
        "validated_on": validated_on,
        "parameters": whose,
        "reason": reason,
        "candidates": [s.as_row() for s in scores],
    }
    return chosen.window.recipe(recipe, count), record


def _priced_window(labeled, recipe, priced, whose: str):
    """Window 'auto' when refit_impact already validated the candidates on the newest labeled
    batch with the champion's parameters (no floor cut the history since): its choice, not refitted."""
    chosen = priced[priced["chosen"]].iloc[0]
    validated_on = str(labeled.loc[labeled["recency"] == labeled["recency"].min(), "batch_id"].iloc[0])
    reason = (
        f"'{chosen['window_name']}' had the lowest log loss ({chosen['log_loss']:.4f}) on {validated_on} of "
        f"{len(priced)} candidate windows fitted with {whose} parameters on the batches before it "
        "(ties go to the one with fewer rows; fitted by refit_impact when its labels arrived)"
    )
    record = {
        "chosen": chosen["window_name"],
        "validated_on": validated_on,
        "parameters": whose,
        "reason": reason,
        "candidates": priced.drop(columns="chosen").to_dict("records"),
    }
    return windows.by_name(chosen["window_name"]).recipe(recipe, labeled["batch_id"].nunique()), record


def _window_floor(con, champion: dict | None) -> str | None:
    """The batch the champion's window may not reach behind (a restart on decay, its own or inherited)."""
    if champion is None:
        return None
    row = fetch_one(
        con,
        "select window_floor from training_set_versions where version = ?",
        [int(champion["training_set_version"])],
    )
    return row["window_floor"] if row else None


def latest_candidate(con) -> dict:
    row = fetch_one(con, "select * from candidate_models order by trained_at desc limit 1")
    if row is None:
        raise dg.Failure("no candidate model yet: materialize candidate_model first")
    return {**row, "metrics": json.loads(row["metrics"])}
