"""Monitoring checks: their failures are what the retrain sensor reacts to."""

import json
import math
from datetime import datetime

import dagster as dg
import pandas as pd

from cl_assets.defs.monitoring.assets import batch_performance, drift_metrics, estimated_performance, refit_impact
from cl_assets.defs.monitoring.policy import MonitoringPolicy
from cl_assets.defs.partitions import run_batch
from cl_assets.defs.resources import Warehouse
from cl_assets.defs.triggers.policy import RetrainPolicy
from cl_assets.lib import concept, decay, drift, markdown, modeling, queries, refit
from cl_assets.lib.warehouse import append_rows, number


@dg.asset_check(
    asset=drift_metrics,
    name="drift_check",
    description=(
        "Fails (WARN) when a feature, the scores, the low-confidence share or the whole table drifted in the "
        "batch (significant and large enough); the retrain sensor reads it. Details: docs/assets.md."
    ),
)
def drift_check(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, monitoring_policy: MonitoringPolicy
) -> dg.AssetCheckResult:
    batch_id = run_batch(context)
    with warehouse.connect(read_only=True) as con:
        rows = queries.DRIFT_METRICS_BY_EFFECT.df(con, batch_id=batch_id)
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
    return _recorded(
        warehouse,
        "drift_check",
        batch_id,
        version,
        dg.AssetCheckResult(
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
        ),
    )


def _recorded(warehouse: Warehouse, name: str, batch_id: str, version, result: dg.AssetCheckResult):
    """The check's verdict, also kept in `check_results` (the run report and `cl why` read it there)."""
    evidence = result.metadata.get("evidence")
    row = {
        "check_name": name,
        "batch_id": batch_id,
        "model_version": int(version) if version is not None else None,
        "passed": bool(result.passed),
        "description": result.description,
        "evidence": json.dumps(getattr(evidence, "value", None) or {}, default=str),
        "evaluated_at": datetime.now(),
    }
    with warehouse.connect() as con:
        queries.DELETE_CHECK_RESULT.run(con, check_name=name, batch_id=batch_id)
        append_rows(con, "check_results", pd.DataFrame([row]))
    return result


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
        return _recorded(
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
    return _recorded(
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
    return _recorded(
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
    return _recorded(
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
