"""Monitoring checks: their failures are what the retrain sensor reacts to."""

import json
import math

import dagster as dg

from cl_assets.defs.monitoring.assets import batch_performance, drift_metrics, refit_impact
from cl_assets.defs.partitions import run_batch
from cl_assets.defs.resources import MonitoringPolicy, Warehouse
from cl_assets.lib import drift, markdown, modeling
from cl_assets.lib.warehouse import fetch_df, fetch_one, number


@dg.asset_check(
    asset=drift_metrics,
    name="drift_check",
    description=(
        "Fails (WARN) when any feature, the prediction scores, the low-confidence share or the "
        "whole table drifted in the batch: a p-value below alpha / number of tests and an effect "
        "size (PSI; domain AUC for the table) at or above its threshold, per feature overridable "
        "in MonitoringPolicy. Metadata: the drifted columns ranked by effect with every statistic, "
        "and the slices they drifted in (root cause). The retrain sensor reacts to failures."
    ),
)
def drift_check(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, monitoring_policy: MonitoringPolicy
) -> dg.AssetCheckResult:
    batch_id = run_batch(context)
    with warehouse.connect(read_only=True) as con:
        rows = fetch_df(con, "select * from drift_metrics where batch_id = ? order by effect desc", [batch_id])
    overall = rows[rows["slice"] == drift.ALL]
    drifted = overall[overall["drifted"]]
    by_slice = rows[(rows["slice"] != drift.ALL) & rows["drifted"]]
    evidence = {
        r.feature: {
            "method": r.method,
            "statistic": _rounded(r.statistic, 5),
            "p_value": _rounded(r.p_value, 3, significant=True),
            "psi": _rounded(r.psi, 4),
            "effect": _rounded(r.effect, 4),
            "threshold": _rounded(r.threshold, 4),
            "slices": sorted(by_slice.loc[by_slice["feature"] == r.feature, "slice"].tolist()),
        }
        for r in drifted.itertuples()
    }
    version = int(overall["reference_version"].iloc[0]) if len(overall) else 0
    return dg.AssetCheckResult(
        passed=drifted.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"batch '{batch_id}': {len(drifted)} of {len(overall)} tests drifted: {', '.join(drifted['feature'])}"
            if len(drifted)
            else f"batch '{batch_id}': no drift in {len(overall)} tests"
        ),
        metadata={
            "batch_id": batch_id,
            "reference_version": version,
            "model_version": version,
            "profile_id": int(overall["profile_id"].iloc[0]) if len(overall) else 0,
            "drifted_features": dg.MetadataValue.json(drifted["feature"].tolist()),
            "evidence": dg.MetadataValue.json(evidence),
            "alpha": monitoring_policy.alpha,
            "psi_threshold": monitoring_policy.psi_threshold,
            "max_psi": float(overall["psi"].max()) if len(overall) else 0.0,
            "drifted": dg.MetadataValue.md(
                markdown.table(drifted[["feature", "method", "statistic", "p_value", "psi", "effect", "threshold"]])
            ),
            "drifted_by_slice": dg.MetadataValue.md(
                markdown.table(by_slice[["slice", "feature", "method", "p_value", "effect", "threshold"]])
            ),
        },
    )


def _rounded(value, digits: int, significant: bool = False):
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}") if significant else round(float(value), digits)


CONCEPT_COLUMNS = (
    "accuracy",
    "roc_auc",
    "positive_rate",
    "reference_accuracy",
    "accuracy_band_low",
    "reference_roc_auc",
    "roc_auc_band_low",
    "reference_positive_rate",
    "target_drift_p_value",
)


@dg.asset_check(
    asset=batch_performance,
    name="performance_check",
    description=(
        "Concept drift. Fails (WARN) when the champion's realized accuracy or ROC AUC on the batch "
        "falls more than the MonitoringPolicy's allowed drop below its own holdout figures *and* "
        "below the uncertainty band (holdout - band_z standard errors of both samples): a real "
        "decay, not the noise of a small batch. Also reports target drift (the label rate "
        "against the holdout's). The retrain sensor reacts to failures."
    ),
)
def performance_check(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, monitoring_policy: MonitoringPolicy
) -> dg.AssetCheckResult:
    batch_id = run_batch(context)
    with warehouse.connect(read_only=True) as con:
        realized = fetch_one(
            con, "select * from batch_performance where batch_id = ? and slice = ?", [batch_id, modeling.OVERALL]
        )
    version = int(realized["model_version"])
    value = {k: number(realized.get(k)) for k in CONCEPT_COLUMNS}
    reference_acc, reference_auc = value["reference_accuracy"], value["reference_roc_auc"]
    if reference_acc is None:
        return dg.AssetCheckResult(
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"batch '{batch_id}': model version {version} has no reference performance to compare with",
            metadata={"batch_id": batch_id, "model_version": version},
        )
    accuracy, auc = value["accuracy"], value["roc_auc"]
    acc_drop = reference_acc - accuracy
    auc_drop = reference_auc - auc if auc is not None and reference_auc is not None else 0.0
    failures = []
    if acc_drop > monitoring_policy.max_accuracy_drop and accuracy < value["accuracy_band_low"]:
        failures.append(
            f"accuracy {accuracy:.4f} is {acc_drop:.4f} below the holdout's {reference_acc:.4f} "
            f"and below its band ({value['accuracy_band_low']:.4f})"
        )
    if auc_drop > monitoring_policy.max_auc_drop and auc < value["roc_auc_band_low"]:
        failures.append(
            f"ROC AUC {auc:.4f} is {auc_drop:.4f} below the holdout's {reference_auc:.4f} "
            f"and below its band ({value['roc_auc_band_low']:.4f})"
        )
    target_p = value["target_drift_p_value"]
    evidence = {
        "model_version": version,
        "accuracy": accuracy,
        "holdout_accuracy": reference_acc,
        "accuracy_band_low": value["accuracy_band_low"],
        "roc_auc": auc,
        "holdout_roc_auc": reference_auc,
        "roc_auc_band_low": value["roc_auc_band_low"],
        "positive_rate": value["positive_rate"],
        "holdout_positive_rate": value["reference_positive_rate"],
        "target_drift_p_value": target_p,
    }
    target = (
        f"; label rate {evidence['positive_rate']:.3f} vs the holdout's {evidence['holdout_positive_rate']:.3f}"
        f" (p={target_p:.3g})"
        if target_p is not None and target_p < monitoring_policy.alpha
        else ""
    )
    return dg.AssetCheckResult(
        passed=not failures,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"batch '{batch_id}', model version {version}: "
        + ("; ".join(failures) or "within the allowed drop or its uncertainty band")
        + target,
        metadata={
            "batch_id": batch_id,
            "model_version": version,
            "evidence": dg.MetadataValue.json(evidence),
            "accuracy_drop": acc_drop,
            "roc_auc_drop": auc_drop,
            "max_accuracy_drop": monitoring_policy.max_accuracy_drop,
            "max_auc_drop": monitoring_policy.max_auc_drop,
            "band_z": monitoring_policy.band_z,
            "target_drift": bool(target),
            "failures": dg.MetadataValue.json(failures),
        },
    )


@dg.asset_check(
    asset=refit_impact,
    name="refit_check",
    description=(
        "Would a retrain pay? Fails (WARN) when the champion's parameters fitted on the newest labels "
        "are expected to add at least MonitoringPolicy.min_refit_gain accuracy on this batch over the "
        "same parameters fitted on the champion's own training batches: over the rows whose decision "
        "flips, |2p - 1| of the newer fit's score p, divided by the rows (the batch is scored before "
        "its labels exist, so this looks ahead). Metadata: the expected gain and the share of flips, "
        "overall and per slice, the mean score change and the batches refitted on. The retrain "
        "sensor reacts to failures when RetrainPolicy.refit_breaches is above 0."
    ),
)
def refit_check(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, monitoring_policy: MonitoringPolicy
) -> dg.AssetCheckResult:
    batch_id = run_batch(context)
    with warehouse.connect(read_only=True) as con:
        rows = fetch_df(con, "select * from refit_impact where batch_id = ? order by slice", [batch_id])
    overall = rows[rows["slice"] == modeling.OVERALL].iloc[0]
    version, threshold = int(overall["model_version"]), monitoring_policy.min_refit_gain
    gain, share = float(overall["expected_gain"]), float(overall["disagreement"])
    slices = rows[rows["slice"] != modeling.OVERALL]
    evidence = {
        "model_version": version,
        "expected_gain": round(gain, 4),
        "threshold": threshold,
        "disagreement": round(share, 4),
        "mean_abs_change": round(float(overall["mean_abs_change"]), 4),
        "rows": int(overall["rows"]),
        "refit_rows": int(overall["refit_rows"]),
        "refit_batches": json.loads(overall["refit_batches"]),
        "by_slice": {
            r.slice: {"expected_gain": round(r.expected_gain, 4), "disagreement": round(r.disagreement, 4)}
            for r in slices.itertuples()
        },
    }
    if not overall["refit_rows"]:
        verdict = "not refitted (see refit_impact's metadata): nothing to compare"
    else:
        verdict = (
            f"a refit on the newest labels flips {share:.1%} of the decisions and is expected to add "
            f"{gain:.2%} accuracy ({'at or above' if gain >= threshold else 'below'} {threshold:.2%})"
        )
    return dg.AssetCheckResult(
        passed=gain < threshold,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"batch '{batch_id}', model version {version}: {verdict}",
        metadata={
            "batch_id": batch_id,
            "model_version": version,
            "expected_gain": gain,
            "disagreement": share,
            "min_refit_gain": threshold,
            "evidence": dg.MetadataValue.json(evidence),
            "by_slice": dg.MetadataValue.md(
                markdown.table(slices[["slice", "rows", "expected_gain", "disagreement", "mean_abs_change"]])
            ),
        },
    )
