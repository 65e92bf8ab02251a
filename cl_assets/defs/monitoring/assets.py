"""Drift of each batch against the champion's reference, and the champion's realized performance."""

import base64
import json
from datetime import datetime

import dagster as dg
import pandas as pd

from cl_assets.defs.deployment.assets import predictions, reference_profile
from cl_assets.defs.deployment.promotion import canary_state
from cl_assets.defs.partitions import batches
from cl_assets.defs.resources import Compute, Dataset, MonitoringPolicy, PromotionPolicy, Warehouse
from cl_assets.lib import concept, drift, markdown, modeling, reference, refit
from cl_assets.lib import drift_report as drift_report_lib
from cl_assets.lib.warehouse import append_rows, fetch_df, fetch_one, query, replace_rows

RESULT = ("rows", "accuracy", "roc_auc", "log_loss")


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
    """Drift of a batch against the current reference profile, one row per (slice, column):
    KS / PSI / normalized Wasserstein / Jensen-Shannon for numeric columns and the prediction
    scores, chi-squared / PSI / Jensen-Shannon / L-infinity / unseen-category share for
    categorical ones, the low-confidence share of the scores, and a whole-table domain
    classifier; each with its effect, threshold, Bonferroni-corrected alpha and verdict."""
    batch_id = context.partition_key
    spec = dataset.spec()
    with warehouse.connect(read_only=True) as con:
        profile_id = reference.current_id(con)
        if profile_id is None:
            raise dg.Failure(f"batch '{batch_id}': no reference profile yet (it is built when a champion is promoted)")
        base = reference.baseline(con, profile_id)
        profiles, sample = reference.load_once(con, base)
        version = int(base["model_version"])
        current = fetch_df(
            con,
            "select f.*, p.score from batch_features f join predictions p using (batch_id, entity_id) where batch_id = ?",
            [batch_id],
        )
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
    """A batch's drift for a person to read: every test ranked by how far it moved (effect over
    threshold), a slice-by-feature table of where it moved, and a plot of both. Stored in
    `drift_reports` (markdown and PNG), shown here in the UI."""
    batch_id = context.partition_key
    with warehouse.connect(read_only=True) as con:
        frame = fetch_df(con, "select * from drift_metrics where batch_id = ?", [batch_id])
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
    deps=["batch_features", predictions],
    group_name="monitoring",
    kinds={"duckdb", "xgboost"},
    pool="duckdb",
)
def refit_impact(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    dataset: Dataset,
    monitoring_policy: MonitoringPolicy,
    compute: Compute,
) -> dg.MaterializeResult:
    """Would a retrain now change anything? The champion's parameters (no search) fitted twice: on
    the batches the champion learned from, and on the newest `refit_window_batches` labeled
    batches (none older than the champion's oldest: after a window restarted on decay, not the
    concept it left out). Both score this batch: the share of rows whose decision flips between them, the
    accuracy a retrain is expected to add (each flip weighs |2p - 1| of the newer fit's score p),
    and the mean score change, overall and per slice (`refit_impact`). The two fits differ only in their
    data, so this is what the newest labels teach; the batch's own labels do not exist yet, so it
    looks ahead at the data being served. No labels newer than the champion's training set:
    nothing is fitted (a retrain would learn what the champion knows)."""
    batch_id = context.partition_key
    spec = dataset.spec()
    window = monitoring_policy.refit_window_batches
    with warehouse.connect(read_only=True) as con:
        scored = fetch_df(
            con,
            "select f.*, p.score, p.model_version from batch_features f join predictions p using (batch_id, entity_id) "
            "where batch_id = ? order by f.entity_id",
            [batch_id],
        )
        if scored.empty:
            raise dg.Failure(f"batch '{batch_id}': not scored by a champion, so there is nothing to compare with")
        version = int(scored["model_version"].iloc[0])
        recipe = fetch_one(con, query("champion_recipe"), [version])
        learned_batches = set(recipe["batches"]) if recipe else set()
        # the newest window (one more, should this batch's own labels be in) and the champion's
        # batches: what a refit reads grows with the window, not with the history
        labeled = (
            fetch_df(
                con, query("labeled_features"), {"window_batches": window + 1, "also_batches": sorted(learned_batches)}
            )
            if monitoring_policy.refit
            else pd.DataFrame({"batch_id": [], "recency": []})
        )
    labeled = labeled[labeled["batch_id"] != batch_id]
    newest = refit.newest_rows(labeled, window, learned_batches)
    window_batches = sorted(newest["batch_id"].unique().tolist())
    newer = sorted(set(window_batches) - learned_batches)
    base = {"batch_id": batch_id, "model_version": version, "refit_batches": dg.MetadataValue.json(window_batches)}
    result, why = None, None
    if not monitoring_policy.refit:
        why = "not refitted: MonitoringPolicy.refit is off"
    elif recipe is None:
        why = f"not refitted: model version {version} has no recorded parameters (not trained by this loop)"
    elif not newer:
        why = f"not refitted: no labels newer than model version {version}'s training set (a retrain would learn what it knows)"
    else:
        try:
            result = refit.refit_and_compare(
                labeled[labeled["batch_id"].isin(learned_batches)],
                newest,
                scored,
                spec,
                json.loads(recipe["params"]),
                seed=compute.seed,
                n_jobs=compute.fit_threads,
            )
        except ValueError as exc:  # e.g. one class only: the batch itself is fine, so the run goes on
            why = f"not refitted: {exc}"
            context.log.warning(f"batch '{batch_id}': {why}")
    if result is None:
        frame = refit.compare(scored["score"], scored["score"], scored["slice"]).assign(refit_rows=0, seconds=0.0)
    else:
        frame = result.frame.assign(refit_rows=result.refit_rows, seconds=round(result.seconds, 3))
        why = (
            f"model version {version}'s parameters fitted on its own training batches and on the newest "
            f"{len(window_batches)} ({result.refit_rows} rows, {len(newer)} batches newer than its training set), "
            f"in {result.seconds:.2f} s"
        )
    frame = frame.assign(
        batch_id=batch_id, model_version=version, refit_batches=json.dumps(window_batches), computed_at=datetime.now()
    )
    with warehouse.connect() as con:
        replace_rows(con, "refit_impact", frame, "batch_id", batch_id)
    overall = frame[frame["slice"] == modeling.OVERALL].iloc[0]
    return dg.MaterializeResult(
        metadata={
            **base,
            "newer_batches": dg.MetadataValue.json(newer),
            "expected_gain": float(overall["expected_gain"]),
            "disagreement": float(overall["disagreement"]),
            "mean_abs_change": float(overall["mean_abs_change"]),
            "refit_rows": int(overall["refit_rows"]),
            "refit": why,
            "by_slice": dg.MetadataValue.md(
                markdown.table(
                    frame[["slice", "rows", "expected_gain", "disagreement", "mean_abs_change", "refit_positive_rate"]]
                )
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
def batch_performance(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    monitoring_policy: MonitoringPolicy,
    promotion_policy: PromotionPolicy,
) -> dg.MaterializeResult:
    """The champion's realized accuracy, ROC AUC and log loss on a batch once its labels arrive
    (prequential: scored before the labels existed), overall and per slice; with concept drift
    (the reference accuracy and ROC AUC of that model and the lower edge of their uncertainty
    band) and target drift (the label rate against the reference's, two-proportion p-value).
    While a canary runs, the same figures for champion and challenger on the canary rows
    (`canary_results`), and the canary's verdict once enough labeled batches are in
    (`canary_verdict`: waiting, promote or roll_back; the promotion_sensor acts on it)."""
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
        version = int(scored["model_version"].iloc[0])
        holdout = fetch_one(con, query("champion_reference"), [version, modeling.OVERALL])
    by_slice = modeling.metrics_by_slice(scored)
    overall = by_slice[modeling.OVERALL]
    band = concept.bands(holdout, overall, monitoring_policy.band_z) if holdout else {}
    frame = pd.DataFrame([{"slice": k, **v, **(band if k == modeling.OVERALL else {})} for k, v in by_slice.items()])
    frame = frame.assign(batch_id=batch_id, model_version=version, computed_at=datetime.now())
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
            "log_loss": overall["log_loss"],
            "labeled_rows": overall["rows"],
            "by_slice": dg.MetadataValue.md(
                markdown.table(frame[["slice", "rows", "accuracy", "roc_auc", "log_loss"]])
            ),
        }
    )


def _canary(con, batch_id: str, policy: PromotionPolicy) -> dict:
    """While a canary runs and scored this batch: both models' realized figures on its canary
    rows (stored), and the canary's verdict over all its labeled rows so far (metadata)."""
    canary = fetch_one(con, query("active_canary"))
    if canary is None:
        return {}
    rows = fetch_df(con, query("canary_rows"), {"canary_id": canary["promotion_id"]})
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
    con.execute("delete from canary_results where canary_id = ? and batch_id = ?", [canary["promotion_id"], batch_id])
    append_rows(con, "canary_results", results)
    verdict, reasons, evidence = canary_state(con, canary, policy)
    return {
        "canary_id": canary["promotion_id"],
        "canary_version": int(canary["model_version"]),
        "canary_verdict": verdict,
        "canary_reason": "; ".join(reasons),
        "canary_evidence": dg.MetadataValue.json(evidence),
    }
