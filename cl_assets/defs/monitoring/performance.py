"""The champion's realized performance on each labeled batch, a running canary's figures, and performance_check (decay)."""

import json
from datetime import datetime

import dagster as dg
import pandas as pd

from cl_assets.defs.deployment.assets import predictions
from cl_assets.defs.deployment.policy import PromotionPolicy
from cl_assets.defs.deployment.promotion import canary_state
from cl_assets.defs.monitoring.check_results import recorded
from cl_assets.defs.monitoring.policy import MonitoringPolicy
from cl_assets.defs.partitions import batches, run_batch
from cl_assets.defs.resources import Warehouse
from cl_assets.lib import concept, decay, markdown, modeling, queries
from cl_assets.lib.warehouse import append_rows, number, replace_rows

RESULT = ("rows", "accuracy", "roc_auc", "log_loss")


# Eager, but only on parents whose blocking checks passed: quarantined labels (unknown ids, say)
# are a materialization too, and judging them would only fail a run on nothing to compare.
WHEN_LABELS_ACCEPTED = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("eager, once the labels pass their blocking checks")


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
        "Fails (WARN) when the champion's realized accuracy has decayed (by default a CUSUM against its own "
        "baseline); the retrain sensor reacts to it. Details: docs/assets.md."
    ),
)
def performance_check(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, monitoring_policy: MonitoringPolicy
) -> dg.AssetCheckResult:
    batch_id = run_batch(context)
    with warehouse.connect(read_only=True) as con:
        realized = queries.BATCH_PERFORMANCE_OF_SLICE.one(con, batch_id=batch_id, slice=modeling.OVERALL)
    version = int(realized["model_version"])
    value = {k: number(realized.get(k)) for k in CONCEPT_COLUMNS}
    reference_acc, reference_auc = value["reference_accuracy"], value["reference_roc_auc"]
    if reference_acc is None:
        return recorded(
            warehouse,
            "performance_check",
            batch_id,
            version,
            dg.AssetCheckResult(
                passed=True,
                severity=dg.AssetCheckSeverity.WARN,
                description=f"batch '{batch_id}': model version {version} has no reference performance to compare with",
                metadata={"batch_id": batch_id, "model_version": version},
            ),
        )
    accuracy, auc = value["accuracy"], value["roc_auc"]
    acc_drop = reference_acc - accuracy
    auc_drop = reference_auc - auc if auc is not None and reference_auc is not None else 0.0
    detector = {}
    if monitoring_policy.decay_detector == "cusum":
        step = _decay(warehouse, batch_id, version, monitoring_policy)
        detector = {k: v for k, v in step.as_dict().items() if k != "batch_id"}
        failures = [_cusum_alarm(accuracy, step)] if step.alarm else []
    else:
        failures = _fixed_rule_failures(value, acc_drop, auc_drop, monitoring_policy)
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
        "detector": monitoring_policy.decay_detector.value,
        **({"cusum": detector} if detector else {}),
    }
    target = (
        f"; label rate {evidence['positive_rate']:.3f} vs the holdout's {evidence['holdout_positive_rate']:.3f}"
        f" (p={target_p:.3g})"
        if target_p is not None and target_p < monitoring_policy.alpha
        else ""
    )
    return recorded(
        warehouse,
        "performance_check",
        batch_id,
        version,
        dg.AssetCheckResult(
            passed=not failures,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"batch '{batch_id}', model version {version}: "
            + ("; ".join(failures) or _within(monitoring_policy.decay_detector, detector))
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
                "decay_detector": monitoring_policy.decay_detector.value,
                **({f"cusum_{k}": v for k, v in detector.items() if k in ("statistic", "threshold", "z")}),
                "target_drift": bool(target),
                "failures": dg.MetadataValue.json(failures),
            },
        ),
    )


def _cusum_alarm(accuracy: float, step) -> str:
    return (
        f"accuracy {accuracy:.4f} against the {step.baseline} baseline {step.baseline_accuracy:.4f} "
        f"(z {step.z:+.2f}): the CUSUM of the drops since promotion is {step.statistic:.2f}, at or above "
        f"its threshold {step.threshold:.2f}"
    )


def _fixed_rule_failures(value: dict, acc_drop: float, auc_drop: float, policy: MonitoringPolicy) -> list[str]:
    """decay_detector 'fixed': accuracy or ROC AUC more than the allowed drop below the holdout's
    and below its uncertainty band."""
    failures = []
    accuracy, auc = value["accuracy"], value["roc_auc"]
    if acc_drop > policy.max_accuracy_drop and accuracy < value["accuracy_band_low"]:
        failures.append(
            f"accuracy {accuracy:.4f} is {acc_drop:.4f} below the holdout's {value['reference_accuracy']:.4f} "
            f"and below its band ({value['accuracy_band_low']:.4f})"
        )
    if auc_drop > policy.max_auc_drop and auc < value["roc_auc_band_low"]:
        failures.append(
            f"ROC AUC {auc:.4f} is {auc_drop:.4f} below the holdout's {value['reference_roc_auc']:.4f} "
            f"and below its band ({value['roc_auc_band_low']:.4f})"
        )
    return failures


def _within(detector: str, step: dict) -> str:
    if detector != "cusum":
        return "within the allowed drop or its uncertainty band"
    return (
        f"the CUSUM of the drops since promotion is {step['statistic']:.2f}, below its threshold "
        f"{step['threshold']:.2f} ({step['baseline']} baseline {step['baseline_accuracy'] or float('nan'):.4f}, "
        f"z {step['z']:+.2f})"
    )


def _decay(warehouse: Warehouse, batch_id: str, version: int, policy: MonitoringPolicy) -> decay.Step:
    """The decay detector over the champion's labeled batches up to this one; its path is stored."""
    with warehouse.connect(read_only=True) as con:
        holdout = queries.CHAMPION_REFERENCE.one(con, model_version=version, slice=modeling.OVERALL)
        rows = queries.CHAMPION_BATCHES.df(con, model_version=version, slice=modeling.OVERALL)
    mine = rows.index[rows["batch_id"] == batch_id]
    rows = rows.iloc[: mine[0] + 1] if len(mine) else rows  # in scoring order, up to this batch
    steps = decay.detect(rows.to_dict("records"), holdout, policy.decay_settings())
    frame = pd.DataFrame([s.as_dict() for s in steps]).assign(model_version=version, computed_at=datetime.now())
    with warehouse.connect() as con:
        queries.DELETE_DECAY_STATISTICS_OF_BATCHES.run(con, model_version=version, batch_ids=frame["batch_id"].tolist())
        append_rows(con, "decay_statistics", frame)
    return steps[-1]
