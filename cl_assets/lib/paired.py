"""Two models scored on the same rows: the standard error of their metrics' difference.

The gate compares a candidate with the champion on one holdout. On a few hundred rows a
ROC AUC difference of 0.01 is well inside the noise, so a fixed allowed drop rejects good
candidates on small holdouts and is loose on none. These errors let the gate fail a
candidate only when the rows show it worse (`PromotionGate.change_confidence`).

- ROC AUC: DeLong, DeLong & Clarke-Pearson (1988), the variance of the difference of two
  correlated AUCs from their structural components, computed with midranks as in Sun & Xu
  (2014, "Fast implementation of DeLong's algorithm").
- Log loss: the paired per-row differences' standard error of the mean.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

EPS = 1e-7


def auc_difference_se(labels, first, second) -> float | None:
    """Standard error of ROC AUC(first) - ROC AUC(second) on the same rows; None with one class."""
    labels = np.asarray(labels, dtype=int)
    scores = np.vstack([np.asarray(first, dtype=float), np.asarray(second, dtype=float)])
    pos, neg = scores[:, labels == 1], scores[:, labels == 0]
    m, n = pos.shape[1], neg.shape[1]
    if m < 2 or n < 2:
        return None
    every = np.hstack([pos, neg])
    v10 = np.empty((2, m))
    v01 = np.empty((2, n))
    for k in range(2):
        ranks = rankdata(every[k])
        v10[k] = (ranks[:m] - rankdata(pos[k])) / n  # share of negatives each positive outranks
        v01[k] = 1.0 - (ranks[m:] - rankdata(neg[k])) / m  # share of positives each negative is below
    cov = np.cov(v10) / m + np.cov(v01) / n
    variance = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    return float(np.sqrt(max(variance, 0.0)))


def row_log_loss(labels, score) -> np.ndarray:
    labels = np.asarray(labels, dtype=int)
    score = np.clip(np.asarray(score, dtype=float), EPS, 1 - EPS)
    return -(labels * np.log(score) + (1 - labels) * np.log(1 - score))


def log_loss_difference_se(labels, first, second) -> float | None:
    """Standard error of log loss(first) - log loss(second) on the same rows; None under two rows."""
    diff = row_log_loss(labels, first) - row_log_loss(labels, second)
    if len(diff) < 2:
        return None
    return float(diff.std(ddof=1) / np.sqrt(len(diff)))


def difference_errors(labels, first, second) -> dict[str, float | None]:
    """{metric: standard error of first's minus second's} for the metrics the gate compares."""
    return {
        "roc_auc": auc_difference_se(labels, first, second),
        "log_loss": log_loss_difference_se(labels, first, second),
    }
