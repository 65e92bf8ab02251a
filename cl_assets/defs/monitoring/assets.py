"""Drift of each batch against the champion's reference, and the champion's realized performance."""

import base64
import json
from datetime import datetime

import dagster as dg
import pandas as pd

from cl_assets.defs.deployment.assets import predictions, reference_profile
from cl_assets.defs.deployment.policy import PromotionPolicy
from cl_assets.defs.deployment.promotion import canary_state
from cl_assets.defs.monitoring.policy import MonitoringPolicy
from cl_assets.defs.partitions import batches
from cl_assets.defs.resources import Compute, Dataset, Warehouse
from cl_assets.lib import concept, drift, estimation, failpoints, markdown, modeling, queries, reference, refit, windows
from cl_assets.lib import drift_report as drift_report_lib
from cl_assets.lib.warehouse import append_rows, replace_rows

RESULT = ("rows", "accuracy", "roc_auc", "log_loss")


# Eager, but only on parents whose blocking checks passed: quarantined labels (unknown ids, say)
# are a materialization too, and judging them would only fail a run on nothing to compare.
WHEN_LABELS_ACCEPTED = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("eager, once the labels pass their blocking checks")


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
    """Drift of a batch against the reference profile, a row per slice and column (features, scores,
    the low-confidence share, the whole table) with its effect, threshold and verdict. Details: docs/assets.md."""
    batch_id = context.partition_key
    spec = dataset.spec()
    with warehouse.connect(read_only=True) as con:
        profile_id = reference.current_id(con)
        if profile_id is None:
            raise dg.Failure(f"batch '{batch_id}': no reference profile yet (it is built when a champion is promoted)")
        base = reference.baseline(con, profile_id)
        profiles, sample = reference.load_once(con, base)
        version = int(base["model_version"])
        current = queries.SCORED_FEATURES_OF_BATCH.df(con, batch_id=batch_id)
    frame = drift.compare(
        profiles,
        current,
        monitoring_policy.drift_policy(),
        slice_column="slice",
        reference_sample=sample,
        numeric=spec.numeric,
        categorical=spec.categorical,
        score_column="score",
    ).assign(batch_id=batch_id, reference_version=version, profile_id=profile_id, computed_at=datetime.now())
    failpoints.reached("drift")
    with warehouse.connect() as con:
        replace_rows(con, "drift_metrics", frame, "batch_id", batch_id)
    overall = frame[frame["slice"] == drift.ALL].sort_values("effect", ascending=False)
    slices = frame[(frame["slice"] != drift.ALL) & frame["drifted"]]
    return dg.MaterializeResult(
        metadata={
            "batch_id": batch_id,
            "reference_version": version,
            "profile_id": profile_id,
            "drifted_features": dg.MetadataValue.json(overall.loc[overall["drifted"], "feature"].tolist()),
            "drifted_in_slices": dg.MetadataValue.json({s: g["feature"].tolist() for s, g in slices.groupby("slice")}),
            "max_psi": float(overall["psi"].max()),
            "drift": dg.MetadataValue.md(markdown.table(overall[RANKED])),
        }
    )


RANKED = ["feature", "method", "statistic", "p_value", "psi", "wasserstein", "js", "effect", "threshold", "drifted"]


@dg.asset(
    partitions_def=batches,
    deps=[drift_metrics],
    group_name="monitoring",
    kinds={"duckdb", "matplotlib"},
    pool="duckdb",
)
def drift_report(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """A batch's drift for a person to read: every test ranked by how far it moved, where it moved, and
    a plot. Details: docs/assets.md."""
    batch_id = context.partition_key
    with warehouse.connect(read_only=True) as con:
        frame = queries.DRIFT_METRICS_OF_BATCH.df(con, batch_id=batch_id)
    if frame.empty:
        raise dg.Failure(f"batch '{batch_id}': no drift metrics to report")
    text = drift_report_lib.render_markdown(batch_id, frame)
    png = drift_report_lib.plot(batch_id, frame)
    drifted = bool(frame.loc[frame["slice"] == drift.ALL, "drifted"].any())
    row = pd.DataFrame(
        [
            {
                "batch_id": batch_id,
                "profile_id": int(frame["profile_id"].iloc[0]),
                "drifted": drifted,
                "markdown": text,
                "plot_png": png,
                "created_at": datetime.now(),
            }
        ]
    )
    with warehouse.connect() as con:
        replace_rows(con, "drift_reports", row, "batch_id", batch_id)
    image = base64.b64encode(png).decode()
    return dg.MaterializeResult(
        metadata={
            "batch_id": batch_id,
            "drifted": drifted,
            "report": dg.MetadataValue.md(f"{text}\n\n![drift of {batch_id}](data:image/png;base64,{image})"),
        }
    )


@dg.asset(
    partitions_def=batches,
    deps=[predictions],
    group_name="monitoring",
    kinds={"duckdb"},
    pool="duckdb",
)
def estimated_performance(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """The champion's accuracy and ROC AUC on a batch estimated from its scores alone, before labels
    exist (CBPE), each with a 95% band. Details: docs/assets.md."""
    batch_id = context.partition_key
    with warehouse.connect(read_only=True) as con:
        scored = queries.SCORES_OF_BATCH.df(con, batch_id=batch_id)
        if scored.empty:
            raise dg.Failure(f"batch '{batch_id}': not scored by a champion, so there is nothing to estimate")
        version = int(scored["model_version"].iloc[0])
        found = queries.CANDIDATE_OF_VERSION.one(con, version=version)
        holdout = queries.CHAMPION_REFERENCE.one(con, model_version=version, slice=modeling.OVERALL)
    calibrator = (
        estimation.Calibrator.from_dict(json.loads(found["calibrator"]))
        if found and found["calibrator"]
        else estimation.identity()
    )
    result = estimation.estimate(scored["score"].to_numpy(), calibrator, seed=len(scored))
    row = {
        "batch_id": batch_id,
        "model_version": version,
        **result.as_dict(),
        "reference_accuracy": holdout["accuracy"] if holdout else None,
        "reference_roc_auc": holdout["roc_auc"] if holdout else None,
        "computed_at": datetime.now(),
    }
    with warehouse.connect() as con:
        replace_rows(con, "estimated_performance", pd.DataFrame([row]), "batch_id", batch_id)
    return dg.MaterializeResult(
        metadata={
            "batch_id": batch_id,
            "model_version": version,
            "estimated_accuracy": result.accuracy,
            "estimated_accuracy_band": dg.MetadataValue.json([result.accuracy_low, result.accuracy_high]),
            "estimated_roc_auc": result.roc_auc if result.roc_auc is not None else float("nan"),
            "estimated_roc_auc_band": dg.MetadataValue.json([result.roc_auc_low, result.roc_auc_high]),
            "calibrator": "identity (no calibrator recorded)"
            if calibrator.identity
            else "isotonic, fitted on the holdout",
            "holdout_accuracy": row["reference_accuracy"] if holdout else float("nan"),
        }
    )


@dg.asset(
    partitions_def=batches,
    deps=[predictions, "batch_labels"],
    group_name="monitoring",
    kinds={"duckdb"},
    pool="duckdb",
    automation_condition=WHEN_LABELS_ACCEPTED,
)
def batch_performance(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    monitoring_policy: MonitoringPolicy,
    promotion_policy: PromotionPolicy,
) -> dg.MaterializeResult:
    """The champion's realized accuracy, ROC AUC and log loss on a batch once its labels arrive, overall
    and per slice, with concept and target drift and a running canary's verdict. Details: docs/assets.md."""
    batch_id = context.partition_key
    with warehouse.connect(read_only=True) as con:
        scored = queries.LABELED_PREDICTIONS_OF_BATCH.df(con, batch_id=batch_id)
        if scored.empty:
            raise dg.Failure(f"batch '{batch_id}': no prediction matches a label id")
        version = int(scored["model_version"].iloc[0])
        holdout = queries.CHAMPION_REFERENCE.one(con, model_version=version, slice=modeling.OVERALL)
        estimate = queries.ESTIMATED_PERFORMANCE_OF_MODEL.one(con, batch_id=batch_id, model_version=version)
    by_slice = modeling.metrics_by_slice(scored)
    overall = by_slice[modeling.OVERALL]
    band = concept.bands(holdout, overall, monitoring_policy.band_z) if holdout else {}
    frame = pd.DataFrame([{"slice": k, **v, **(band if k == modeling.OVERALL else {})} for k, v in by_slice.items()])
    frame = frame.assign(batch_id=batch_id, model_version=version, computed_at=datetime.now())
    if estimate:  # the label-free estimate beside the realized figures (overall row)
        overall_row = frame["slice"] == modeling.OVERALL
        frame.loc[overall_row, "estimated_accuracy"] = estimate["accuracy"]
        frame.loc[overall_row, "estimated_roc_auc"] = estimate["roc_auc"]
    with warehouse.connect() as con:
        replace_rows(con, "batch_performance", frame, "batch_id", batch_id)
        canary = _canary(con, batch_id, promotion_policy)
    return dg.MaterializeResult(
        metadata={
            **canary,
            "batch_id": batch_id,
            "model_version": version,
            **{k: v for k, v in band.items() if v is not None},
            "accuracy": overall["accuracy"],
            "roc_auc": overall["roc_auc"] if overall["roc_auc"] is not None else float("nan"),
            **({"estimated_accuracy": estimate["accuracy"]} if estimate else {}),
            "log_loss": overall["log_loss"],
            "labeled_rows": overall["rows"],
            "by_slice": dg.MetadataValue.md(
                markdown.table(frame[["slice", "rows", "accuracy", "roc_auc", "log_loss"]])
            ),
        }
    )


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


def _canary(con, batch_id: str, policy: PromotionPolicy) -> dict:
    """While a canary runs and scored this batch: both models' realized figures on its canary
    rows (stored), and the canary's verdict over all its labeled rows so far (metadata)."""
    canary = queries.ACTIVE_CANARY.one(con)
    if canary is None:
        return {}
    rows = queries.CANARY_ROWS.df(con, canary_id=canary["promotion_id"])
    mine = rows[rows["batch_id"] == batch_id]
    if mine.empty:
        return {}
    results = pd.DataFrame(
        [
            {
                "canary_id": canary["promotion_id"],
                "batch_id": batch_id,
                "model_role": role,
                "model_version": version,
                **{k: v for k, v in modeling.metrics(mine["label"], mine[f"{role}_score"]).items() if k in RESULT},
                "computed_at": datetime.now(),
            }
            for role, version in (
                ("champion", json.loads(canary["evidence"])["champion_version"]),
                ("challenger", int(canary["model_version"])),
            )
        ]
    )
    queries.DELETE_CANARY_RESULTS_OF_BATCH.run(con, canary_id=canary["promotion_id"], batch_id=batch_id)
    append_rows(con, "canary_results", results)
    verdict, reasons, evidence = canary_state(con, canary, policy)
    return {
        "canary_id": canary["promotion_id"],
        "canary_version": int(canary["model_version"]),
        "canary_verdict": verdict,
        "canary_reason": "; ".join(reasons),
        "canary_evidence": dg.MetadataValue.json(evidence),
    }
