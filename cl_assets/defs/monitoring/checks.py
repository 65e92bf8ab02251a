"""Monitoring checks: their failures are what the retrain sensor reacts to."""

import math

import dagster as dg

from cl_assets.defs.deployment.champion import current
from cl_assets.defs.monitoring.assets import batch_performance, drift_metrics
from cl_assets.defs.partitions import run_batch
from cl_assets.defs.resources import MonitoringPolicy, Warehouse
from cl_assets.lib import markdown, modeling
from cl_assets.lib.warehouse import fetch_df, fetch_one


@dg.asset_check(
    asset=drift_metrics,
    name="drift_check",
    description=(
        "Fails (WARN) when any feature, or the prediction scores, drifted in the batch: a "
        "p-value below alpha / number of columns and a PSI at or above the threshold "
        "(MonitoringPolicy). Metadata: the batch, the drifted features ranked by PSI with "
        "their statistics. The retrain sensor launches retrain_job on a failure."
    ),
)
def drift_check(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, monitoring_policy: MonitoringPolicy
) -> dg.AssetCheckResult:
    batch_id = run_batch(context)
    with warehouse.connect(read_only=True) as con:
        rows = fetch_df(con, "select * from drift_metrics where batch_id = ? order by psi desc", [batch_id])
    drifted = rows[rows["drifted"]]
    evidence = {
        r.feature: {
            "method": r.method,
            "statistic": round(r.statistic, 5),
            "p_value": float(f"{r.p_value:.3g}"),
            "psi": round(r.psi, 4),
        }
        for r in drifted.itertuples()
    }
    return dg.AssetCheckResult(
        passed=drifted.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"batch '{batch_id}': {len(drifted)} of {len(rows)} columns drifted: {', '.join(drifted['feature'])}"
            if len(drifted)
            else f"batch '{batch_id}': no drift in {len(rows)} columns"
        ),
        metadata={
            "batch_id": batch_id,
            "reference_version": int(rows["reference_version"].iloc[0]) if len(rows) else 0,
            "model_version": int(rows["reference_version"].iloc[0]) if len(rows) else 0,
            "drifted_features": dg.MetadataValue.json(drifted["feature"].tolist()),
            "evidence": dg.MetadataValue.json(evidence),
            "alpha": monitoring_policy.alpha,
            "psi_threshold": monitoring_policy.psi_threshold,
            "max_psi": float(rows["psi"].max()) if len(rows) else 0.0,
            "drifted": dg.MetadataValue.md(
                markdown.table(drifted[["feature", "method", "statistic", "p_value", "psi"]])
            ),
        },
    )


@dg.asset_check(
    asset=batch_performance,
    name="performance_check",
    description=(
        "Fails (WARN) when the champion's realized accuracy or ROC AUC on the batch falls more "
        "than the MonitoringPolicy's allowed drop below its own holdout figures: concept drift "
        "or a label shift that feature drift cannot see. The retrain sensor reacts to it."
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
        champion = fetch_one(
            con,
            "select * from champion_history where model_version = ? order by promoted_at desc limit 1",
            [realized["model_version"]],
        ) or current(con)
    acc_drop = float(champion["holdout_accuracy"] - realized["accuracy"])
    auc = realized["roc_auc"]
    auc_drop = float(champion["holdout_roc_auc"] - auc) if auc is not None and math.isfinite(auc) else 0.0
    failures = []
    if acc_drop > monitoring_policy.max_accuracy_drop:
        failures.append(
            f"accuracy {realized['accuracy']:.4f} is {acc_drop:.4f} below the holdout's {champion['holdout_accuracy']:.4f}"
        )
    if auc_drop > monitoring_policy.max_auc_drop:
        failures.append(f"ROC AUC {auc:.4f} is {auc_drop:.4f} below the holdout's {champion['holdout_roc_auc']:.4f}")
    evidence = {
        "model_version": int(realized["model_version"]),
        "accuracy": float(realized["accuracy"]),
        "holdout_accuracy": float(champion["holdout_accuracy"]),
        "roc_auc": auc if auc is not None and math.isfinite(auc) else None,
        "holdout_roc_auc": float(champion["holdout_roc_auc"]),
    }
    return dg.AssetCheckResult(
        passed=not failures,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"batch '{batch_id}', model version {evidence['model_version']}: "
        + ("; ".join(failures) or "within the allowed drop"),
        metadata={
            "batch_id": batch_id,
            "model_version": evidence["model_version"],
            "evidence": dg.MetadataValue.json(evidence),
            "accuracy_drop": acc_drop,
            "roc_auc_drop": auc_drop,
            "max_accuracy_drop": monitoring_policy.max_accuracy_drop,
            "max_auc_drop": monitoring_policy.max_auc_drop,
            "failures": dg.MetadataValue.json(failures),
        },
    )
