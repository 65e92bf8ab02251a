"""Does a retrain pay? refit_impact prices a refit on each labeled batch; refit_check sums it against the cost."""

import json
from datetime import datetime

import dagster as dg
import pandas as pd

from cl_assets.defs.deployment.assets import predictions
from cl_assets.defs.monitoring.check_results import recorded
from cl_assets.defs.monitoring.performance import WHEN_LABELS_ACCEPTED, batch_performance
from cl_assets.defs.monitoring.policy import MonitoringPolicy
from cl_assets.defs.partitions import batches, run_batch
from cl_assets.defs.resources import Compute, Dataset, Warehouse
from cl_assets.defs.triggers.policy import RetrainPolicy
from cl_assets.lib import markdown, queries, refit, windows
from cl_assets.lib.warehouse import replace_rows


@dg.asset(
    partitions_def=batches,
    deps=["batch_features", predictions, "batch_labels", batch_performance],
    group_name="monitoring",
    kinds={"duckdb", "xgboost"},
    pool="duckdb",
    automation_condition=WHEN_LABELS_ACCEPTED,
)
def refit_impact(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    dataset: Dataset,
    monitoring_policy: MonitoringPolicy,
    compute: Compute,
) -> dg.MaterializeResult:
    """What a retrain one batch earlier would have bought: candidate windows fitted with the champion's
    parameters and scored on this batch, priced against the champion. Details: docs/assets.md."""
    batch_id = context.partition_key
    spec = dataset.spec()
    with warehouse.connect(read_only=True) as con:
        target = queries.LABELED_SCORES.df(con, batch_id=batch_id)
        if target.empty:
            raise dg.Failure(f"batch '{batch_id}': no scored row has a label yet, so there is nothing to compare")
        version = int(target["model_version"].iloc[0])
        recipe = queries.CHAMPION_RECIPE.one(con, model_version=version)
        labeled = (
            queries.LABELED_FEATURES.df(con, window_batches=0, also_batches=[])
            if monitoring_policy.refit and recipe is not None
            else None
        )
    champion_correct = ((target["score"] >= 0.5) == target["label"].astype(bool)).to_numpy(dtype=float)
    base = {"batch_id": batch_id, "model_version": version, "champion_accuracy": float(champion_correct.mean())}
    scores, why = _refitted(batch_id, version, target, labeled, recipe, monitoring_policy, spec, compute)
    if why:
        context.log.info(f"batch '{batch_id}': {why}")
        with warehouse.connect() as con:
            queries.DELETE_REFIT_CANDIDATES_OF_BATCH.run(con, batch_id=batch_id)
        return dg.MaterializeResult(metadata={**base, "refit": why, "gain_points": 0.0})
    chosen = windows.choose(scores)
    gains = {s.window.name: refit.gain(s, champion_correct) for s in scores}
    labels = target["label"].astype(int).to_numpy()
    price, halves = refit.priced(scores, champion_correct, labels, seed=compute.seed)
    frame = _candidate_rows(scores, chosen, gains, price, halves).assign(
        batch_id=batch_id, model_version=version, computed_at=datetime.now()
    )
    with warehouse.connect() as con:
        replace_rows(con, "refit_candidates", frame, "batch_id", batch_id)
    best = gains[chosen.window.name]
    return dg.MaterializeResult(
        metadata={
            **base,
            "window": chosen.window.name,
            "refit_accuracy": best.refit_accuracy,
            "chosen_gain_points": 100 * best.gain,
            "gain_points": 100 * price.gain,
            "gain_se_points": 100 * price.se,
            "refit": f"{len(scores)} candidate windows fitted with model version {version}'s parameters on the "
            f"batches before this one; '{chosen.window.name}' ({chosen.rows} rows) has the lowest log loss. "
            f"Priced without the winner's curse (chosen on each half of the batch, counted on the other: "
            f"{' / '.join(halves)}): {100 * price.gain:+.2f} points (se {100 * price.se:.2f}), "
            f"against {100 * best.gain:+.2f} read off the rows that chose it",
            "candidates": dg.MetadataValue.md(
                markdown.table(
                    frame[["window_name", "window_batches", "train_rows", "accuracy", "log_loss", "gain", "chosen"]]
                )
            ),
        }
    )


def _refitted(batch_id, version, target, labeled, recipe, policy: MonitoringPolicy, spec, compute):
    """(scores of the candidate windows on the batch, None) or ([], why none were fitted)."""
    if not policy.refit:
        return [], "not refitted: MonitoringPolicy.refit is off"
    if recipe is None:
        return [], f"not refitted: model version {version} has no recorded parameters (not trained by this loop)"
    history = windows.history_before(labeled, batch_id)
    try:
        scores = windows.validate(
            history, target, spec, json.loads(recipe["params"]), seed=compute.seed, n_jobs=compute.fit_threads
        )
    except ValueError as exc:  # e.g. rows the model cannot read: the batch itself is fine, the run goes on
        return [], f"not refitted: {exc}"
    if not scores:
        return [], "not refitted: no labeled batch before this one holds both labels"
    return scores, None


def _candidate_rows(scores, chosen, gains, price, halves) -> pd.DataFrame:
    """A refit_candidates row per candidate window; the chosen one carries the priced gain."""
    return pd.DataFrame(
        [
            {
                **s.as_row(),
                "champion_accuracy": gains[s.window.name].champion_accuracy,
                "gain": gains[s.window.name].gain,
                "gain_se": gains[s.window.name].se,
                "chosen": s is chosen,
                "learned_batches": json.dumps(s.batches),
                "priced_gain": price.gain if s is chosen else None,
                "priced_gain_se": price.se if s is chosen else None,
                "priced_windows": json.dumps(halves) if s is chosen else None,
            }
            for s in scores
        ]
    )


@dg.asset_check(
    asset=refit_impact,
    name="refit_check",
    description=(
        "Does a retrain pay? Fails (WARN) when the accuracy lost to not retraining since the champion's "
        "promotion reaches RetrainPolicy.retrain_cost_points; the retrain sensor then retrains. Details: docs/assets.md."
    ),
)
def refit_check(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, retrain_policy: RetrainPolicy
) -> dg.AssetCheckResult:
    batch_id = run_batch(context)
    with warehouse.connect(read_only=True) as con:
        version = queries.SCORING_MODEL_OF_BATCH.one(con, batch_id=batch_id)["model_version"]
        rows = queries.CHOSEN_REFITS_OF_MODEL.df(con, model_version=version)
        # a retrain tried while this champion served (rejected by the gate, or still to be promoted) learned
        # these batches: the loss since then is what a new attempt has to pay for
        attempt = queries.NEWEST_TRAINING_SET_OF_CHAMPION.one(con, champion_version=version)
    tried = set(json.loads(attempt["batches"])) if attempt else set()
    rows = rows[~rows["batch_id"].isin(tried)]
    mine = rows[rows["batch_id"] == batch_id]
    rows = pd.concat([rows[rows["batch_id"] != batch_id], mine])  # this batch last, whenever it was computed
    cost = retrain_policy.retrain_cost_points
    total = refit.regret(rows["gain"].tolist(), rows["gain_se"].tolist(), cost, retrain_policy.retrain_confidence_z)
    evidence = {
        "model_version": int(version) if version is not None else None,
        **total.as_dict(),
        "window": mine["window_name"].iloc[0] if len(mine) else None,
        "since_attempt": int(attempt["version"]) if attempt else None,
        "gain_points_by_batch": {r.batch_id: round(100 * r.gain, 3) for r in rows.itertuples()},
    }
    if mine.empty:
        verdict = f"not refitted (see refit_impact's metadata); {total.accumulated_points:+.2f} points since promotion"
    else:
        g = mine.iloc[0]
        tried_text = f" and the retrain tried since (training set v{attempt['version']})" if attempt else ""
        verdict = (
            f"a retrain (window '{g['window_name']}') would have scored {100 * g['gain']:+.2f} points (se {100 * g['gain_se']:.2f}) "
            f"against the champion here; {total.accumulated_points:+.2f} points (se {total.se_points:.2f}) over "
            f"{total.batches} labeled batch(es) since its promotion{tried_text}; less {total.z:g} se, "
            f"{total.lower_points:+.2f}, {'at or above' if total.pays else 'below'} the cost of a retrain ({cost:g} points)"
        )
    return recorded(
        warehouse,
        "refit_check",
        batch_id,
        version,
        dg.AssetCheckResult(
            passed=not total.pays,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"batch '{batch_id}', model version {version}: {verdict}",
            metadata={
                "batch_id": batch_id,
                "model_version": int(version) if version is not None else 0,
                "gain_points": float(100 * mine["gain"].iloc[0]) if len(mine) else 0.0,
                "accumulated_gain_points": total.accumulated_points,
                "retrain_cost_points": cost,
                "evidence": dg.MetadataValue.json(evidence),
                "by_batch": dg.MetadataValue.md(markdown.table(rows.assign(gain_points=100 * rows["gain"]))),
            },
        ),
    )
