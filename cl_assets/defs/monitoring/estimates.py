"""The champion's performance estimated before labels exist (CBPE), and estimated_performance_check."""

import json
import math
from datetime import datetime

import dagster as dg
import pandas as pd

from cl_assets.defs.deployment.assets import predictions
from cl_assets.defs.monitoring.check_results import recorded
from cl_assets.defs.monitoring.policy import MonitoringPolicy
from cl_assets.defs.partitions import batches, run_batch
from cl_assets.defs.resources import Warehouse
from cl_assets.lib import concept, estimation, modeling, queries
from cl_assets.lib.warehouse import number, replace_rows


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


@dg.asset_check(
    asset=estimated_performance,
    name="estimated_performance_check",
    description=(
        "Label-free decay: fails (WARN) when the champion's estimated accuracy lies below its holdout's beyond "
        "both bands; an alert by default, a trigger with RetrainPolicy.estimated_breaches. Details: docs/assets.md."
    ),
)
def estimated_performance_check(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, monitoring_policy: MonitoringPolicy
) -> dg.AssetCheckResult:
    batch_id = run_batch(context)
    with warehouse.connect(read_only=True) as con:
        row = queries.ESTIMATED_PERFORMANCE_OF_BATCH.one(con, batch_id=batch_id)
        version = int(row["model_version"])
        holdout = queries.CHAMPION_REFERENCE.one(con, model_version=version, slice=modeling.OVERALL)
    estimated = float(row["accuracy"])
    evidence = {
        "model_version": version,
        "estimated_accuracy": round(estimated, 4),
        "estimated_accuracy_band": [number(row["accuracy_low"]), number(row["accuracy_high"])],
        "estimated_roc_auc": number(row["roc_auc"]),
        "holdout_accuracy": number(holdout["accuracy"]) if holdout else None,
    }
    if holdout is None:
        verdict, passed = f"model version {version} has no holdout figures to compare with", True
    else:
        band_se = (float(row["accuracy_high"]) - float(row["accuracy_low"])) / (2 * 1.96)
        se = math.hypot(band_se, concept.accuracy_se(float(holdout["accuracy"]), int(holdout["rows"])))
        drop = float(holdout["accuracy"]) - estimated
        passed = drop <= monitoring_policy.band_z * se
        evidence |= {"drop": round(drop, 4), "se": round(se, 4), "band_z": monitoring_policy.band_z}
        verdict = (
            f"estimated accuracy {estimated:.4f} against the holdout's {float(holdout['accuracy']):.4f}: "
            f"{drop / se if se else 0:+.2f} standard errors lower ({'within' if passed else 'beyond'} "
            f"{monitoring_policy.band_z:g})"
        )
    return recorded(
        warehouse,
        "estimated_performance_check",
        batch_id,
        version,
        dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"batch '{batch_id}', model version {version}: {verdict}",
            metadata={
                "batch_id": batch_id,
                "model_version": version,
                "estimated_accuracy": estimated,
                "evidence": dg.MetadataValue.json(evidence),
            },
        ),
    )
