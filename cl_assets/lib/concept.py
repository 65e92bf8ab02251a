"""Concept and target drift: the champion's realized performance on a labeled batch against its
own reference (its holdout figures), with an uncertainty band, and the batch's label rate
against the reference's.

The band is `reference - z * se` where `se` combines both samples' standard errors: for accuracy
the binomial one, for ROC AUC Hanley & McNeil's (1982). A drop inside the band is sampling
noise, however large it looks on a small batch.
"""

from __future__ import annotations

import math

from cl_assets.lib import drift


def accuracy_se(accuracy: float, rows: int) -> float:
    return math.sqrt(max(accuracy * (1 - accuracy), 0.0) / rows) if rows else math.inf


def auc_se(auc: float, positives: int, negatives: int) -> float:
    """Hanley & McNeil's standard error of a ROC AUC."""
    if not positives or not negatives:
        return math.inf
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)) / (
        positives * negatives
    )
    return math.sqrt(max(variance, 0.0))


def _counts(rows: int, positive_rate: float | None) -> tuple[int, int]:
    positives = round(rows * (positive_rate or 0.0))
    return positives, rows - positives


def bands(reference: dict, realized: dict, z: float) -> dict:
    """Lower band edges of accuracy and ROC AUC, and the target-drift p-value.

    `reference` and `realized` carry rows, accuracy, roc_auc (may be None), positive_rate."""
    ref_rows, rows = int(reference["rows"]), int(realized["rows"])
    se_acc = math.hypot(accuracy_se(reference["accuracy"], ref_rows), accuracy_se(realized["accuracy"], rows))
    out = {
        "reference_accuracy": float(reference["accuracy"]),
        "accuracy_band_low": float(reference["accuracy"] - z * se_acc),
        "reference_roc_auc": None,
        "roc_auc_band_low": None,
        "reference_positive_rate": reference.get("positive_rate"),
        "target_drift_p_value": None,
    }
    if reference.get("roc_auc") is not None and realized.get("roc_auc") is not None:
        se_auc = math.hypot(
            auc_se(reference["roc_auc"], *_counts(ref_rows, reference.get("positive_rate"))),
            auc_se(realized["roc_auc"], *_counts(rows, realized.get("positive_rate"))),
        )
        out["reference_roc_auc"] = float(reference["roc_auc"])
        out["roc_auc_band_low"] = float(reference["roc_auc"] - z * se_auc)
    if reference.get("positive_rate") is not None and realized.get("positive_rate") is not None and rows and ref_rows:
        out["target_drift_p_value"] = drift.two_proportions(
            float(reference["positive_rate"]), ref_rows, float(realized["positive_rate"]), rows
        )
    return out
