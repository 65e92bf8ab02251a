"""The model: an sklearn pipeline (ordinal-encoded categories, XGBoost) and its metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder
from xgboost import XGBClassifier

from cl_assets.lib.dataset import DatasetSpec

OVERALL = "__overall__"
DEFAULT_PARAMS = {
    "n_estimators": 300,
    "max_depth": 4,
    "learning_rate": 0.05,
    "min_child_weight": 2.0,
    "subsample": 0.9,
    "colsample_bytree": 0.9,
    "reg_lambda": 1.0,
}

# a plain XGBoost as a cron job would train it: no search (the backtest's fixed:K:ROWS policies)
NAIVE_PARAMS = {"n_estimators": 200, "max_depth": 6, "learning_rate": 0.1}


def inputs(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """The model's input columns with stable dtypes (numbers as float, categories as text)."""
    out = pd.DataFrame(index=frame.index)
    for col in spec.numeric:
        out[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    for col in spec.categorical:
        out[col] = frame[col].astype("object").where(frame[col].notna(), None)
    return out


def encoder(spec: DatasetSpec) -> ColumnTransformer:
    """Categories as ordinal codes (unknown and missing as NaN, which XGBoost routes), numbers as they are."""
    return ColumnTransformer(
        [
            (
                "categories",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan),
                list(spec.categorical),
            )
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )


def encoded(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """The rows as the model's XGBoost step sees them: what hyperparameter tuning fits on."""
    step = encoder(spec).set_output(transform="pandas")
    return step.fit_transform(inputs(frame, spec)).astype("float64")


def build(spec: DatasetSpec, params: dict, seed: int = 0, n_jobs: int = 2) -> Pipeline:
    model = XGBClassifier(**params, tree_method="hist", random_state=seed, n_jobs=n_jobs, eval_metric="logloss")
    return Pipeline([("encode", encoder(spec)), ("model", model)])


def fit(frame: pd.DataFrame, spec: DatasetSpec, params: dict, seed: int = 0, weight=None, n_jobs: int = 2) -> Pipeline:
    pipeline = build(spec, params, seed, n_jobs=n_jobs)
    extra = {} if weight is None else {"model__sample_weight": np.asarray(weight, dtype=float)}
    pipeline.fit(inputs(frame, spec), frame["label"].astype(int), **extra)
    return pipeline


def scores(model, frame: pd.DataFrame, spec: DatasetSpec) -> np.ndarray:
    return np.asarray(model.predict_proba(inputs(frame, spec))[:, 1], dtype=float)


def calibration_error(labels: np.ndarray, score: np.ndarray, bins: int = 10) -> float | None:
    """Expected calibration error: the row-weighted gap between mean score and positive rate
    over `bins` equal-width score bins."""
    if not len(labels):
        return None
    which = np.minimum((score * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    gaps = np.abs(np.bincount(which, score, bins) - np.bincount(which, labels, bins))
    return float(gaps.sum() / counts.sum())


def metrics(labels: np.ndarray, score: np.ndarray) -> dict:
    """accuracy at 0.5, ROC AUC (None when one class only), log loss, calibration error, rows, positive rate."""
    labels = np.asarray(labels, dtype=int)
    score = np.clip(np.asarray(score, dtype=float), 1e-7, 1 - 1e-7)
    both = len(np.unique(labels)) == 2
    return {
        "rows": int(len(labels)),
        "accuracy": float(accuracy_score(labels, score >= 0.5)) if len(labels) else None,
        "roc_auc": float(roc_auc_score(labels, score)) if both else None,
        "log_loss": float(log_loss(labels, score, labels=[0, 1])) if len(labels) else None,
        "calibration_error": calibration_error(labels, score),
        "positive_rate": float(labels.mean()) if len(labels) else None,
    }


def metrics_by_slice(frame: pd.DataFrame, score_col: str = "score") -> dict[str, dict]:
    """Metrics overall (key `__overall__`) and for each value of the `slice` column."""
    out = {OVERALL: metrics(frame["label"], frame[score_col])}
    for value, part in frame.groupby("slice", sort=True):
        out[str(value)] = metrics(part["label"], part[score_col])
    return out
