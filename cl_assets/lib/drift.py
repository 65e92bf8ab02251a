"""Drift statistics between a reference sample and a new batch, per column.

- numeric: two-sample Kolmogorov-Smirnov (asymptotic p-value) and PSI;
- categorical: two-sample chi-squared on the contingency table, and PSI over categories;
- PSI uses ten bins at the reference's deciles (numeric) or the union of categories, with
  empty bins floored at 1e-4 so that an unseen category counts without dividing by zero.

A column drifts when its p-value is below `alpha / number of columns tested` (Bonferroni)
*and* its PSI reaches `psi_threshold`: significance alone flags harmless shifts on large
batches, the effect size alone flags noise on small ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

PSI_FLOOR = 1e-4


@dataclass(frozen=True)
class DriftThresholds:
    alpha: float = 0.01
    psi_threshold: float = 0.1


def _psi(ref_share: np.ndarray, cur_share: np.ndarray) -> float:
    ref_share = np.clip(ref_share, PSI_FLOOR, None)
    cur_share = np.clip(cur_share, PSI_FLOOR, None)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def numeric(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> dict:
    ref = ref[np.isfinite(ref)]
    cur = cur[np.isfinite(cur)]
    if len(ref) == 0 or len(cur) == 0:
        return {"method": "ks", "statistic": float("nan"), "p_value": float("nan"), "psi": float("nan")}
    ks = stats.ks_2samp(ref, cur, method="asymp")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_counts = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1)
    cur_counts = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1)
    return {
        "method": "ks",
        "statistic": float(ks.statistic),
        "p_value": float(ks.pvalue),
        "psi": _psi(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()),
    }


def categorical(ref: pd.Series, cur: pd.Series) -> dict:
    ref_counts = ref.fillna("<null>").astype(str).value_counts()
    cur_counts = cur.fillna("<null>").astype(str).value_counts()
    table = pd.concat([ref_counts, cur_counts], axis=1).fillna(0).to_numpy()
    if table.shape[0] < 2:
        statistic, p_value = 0.0, 1.0
    else:
        statistic, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    return {
        "method": "chi2",
        "statistic": float(statistic),
        "p_value": float(p_value),
        "psi": _psi(table[:, 0] / table[:, 0].sum(), table[:, 1] / table[:, 1].sum()),
    }


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric_cols: list[str],
    categorical_cols: list[str],
    thresholds: DriftThresholds,
) -> pd.DataFrame:
    """One row per column: feature, kind, method, statistic, p_value, psi, drifted."""
    rows = []
    for col in numeric_cols:
        r = numeric(pd.to_numeric(reference[col]).to_numpy(float), pd.to_numeric(current[col]).to_numpy(float))
        rows.append({"feature": col, "kind": "numeric", **r})
    for col in categorical_cols:
        rows.append({"feature": col, "kind": "categorical", **categorical(reference[col], current[col])})
    frame = pd.DataFrame(rows, columns=["feature", "kind", "method", "statistic", "p_value", "psi"])
    corrected = thresholds.alpha / max(len(frame), 1)
    frame["drifted"] = (frame["p_value"] < corrected) & (frame["psi"] >= thresholds.psi_threshold)
    return frame
