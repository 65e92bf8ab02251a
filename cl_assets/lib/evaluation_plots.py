"""The evaluation report's plot: ROC curves and calibration (reliability) of candidate and champion."""

from __future__ import annotations

import io

import numpy as np
from sklearn.metrics import roc_curve

COLORS = {"candidate": "#d62728", "champion": "#1f77b4"}


def reliability(labels: np.ndarray, score: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Mean score and positive rate of each non-empty equal-width score bin."""
    which = np.minimum((score * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    keep = counts > 0
    mean_score = np.bincount(which, score, bins)[keep] / counts[keep]
    positive_rate = np.bincount(which, labels, bins)[keep] / counts[keep]
    return mean_score, positive_rate


def plot(scored: dict[str, tuple[np.ndarray, np.ndarray]], title: str) -> bytes:
    """PNG of two panels from {role: (labels, scores)} on the same rows."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure registry

    fig = Figure(figsize=(9, 4), dpi=72)
    # fixed axes: tight_layout would cost as much as the rest of the drawing
    roc, cal = fig.add_axes((0.07, 0.13, 0.39, 0.75)), fig.add_axes((0.58, 0.13, 0.39, 0.75))
    for role, (labels, score) in scored.items():
        labels, score = np.asarray(labels, dtype=int), np.asarray(score, dtype=float)
        color = COLORS.get(role, "gray")
        if len(np.unique(labels)) == 2:
            fpr, tpr, _ = roc_curve(labels, score)
            roc.plot(fpr, tpr, color=color, label=role)
        mean_score, rate = reliability(labels, score)
        cal.plot(mean_score, rate, marker="o", color=color, label=role)
    for ax in (roc, cal):
        ax.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(loc="lower right", fontsize=8)
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (holdout)")
    cal.set(xlabel="mean predicted probability", ylabel="observed positive rate", title="calibration (holdout)")
    fig.suptitle(title, fontsize=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
