"""Does a retrain pay? The accuracy the champion lost to a refit, summed since its promotion, against
the stated cost of one retrain.

When a batch's labels arrive, the candidate windows are fitted on the batches before it and
scored on it (`lib/windows.py`); the chosen one is what a retrain would have served. Its
accuracy on that batch minus the champion's (both decided the same rows, before the labels
existed) is the *gain* of having retrained one batch earlier, with its paired standard error.

A retrain is worth it once the accuracy lost by not retraining, summed over the labeled
batches since the champion was promoted, reaches the cost of one retrain (`cost_points`, in
accuracy points over one batch): the rent-or-buy rule. Paying rent (keeping a champion that
loses) until the rent paid equals the price of buying (a retrain) never costs more than twice
the best decision made in hindsight, whatever the stream does, and it adapts by itself: a
stream with no change accumulates next to nothing and is not retrained, a concept change
accumulates its whole drop in one batch and is retrained at once, a slow drift is retrained as
often as its losses add up to the cost. The gains are not clipped at zero: batches on which
the champion beats the refit (it was tuned, the refit was not) pay the rent back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cl_assets.lib.windows import Score


@dataclass(frozen=True)
class Gain:
    """The chosen refit against the champion on one labeled batch, in accuracy (0..1)."""

    rows: int
    refit_accuracy: float
    champion_accuracy: float
    gain: float  # refit - champion
    se: float  # paired standard error of the gain

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "refit_accuracy": self.refit_accuracy,
            "champion_accuracy": self.champion_accuracy,
            "gain": self.gain,
            "gain_se": self.se,
        }


def gain(refit: Score, champion_correct: np.ndarray) -> Gain:
    """The accuracy `refit` adds over the champion on the same rows (`champion_correct`: 1 where
    the champion decided right), with the paired standard error of that difference."""
    champion_correct = np.asarray(champion_correct, dtype=float)
    if len(champion_correct) != len(refit.correct):
        raise ValueError("the refit and the champion must be scored on the same rows")
    diff = refit.correct - champion_correct
    n = len(diff)
    se = float(np.std(diff, ddof=1) / math.sqrt(n)) if n > 1 else math.inf
    return Gain(n, float(refit.correct.mean()), float(champion_correct.mean()), float(diff.mean()), se)


@dataclass(frozen=True)
class Regret:
    """The gains since the champion's promotion, summed, against the cost of a retrain."""

    batches: int
    accumulated_points: float  # sum of the per-batch gains, in accuracy points
    cost_points: float
    newest_gain_points: float

    @property
    def pays(self) -> bool:
        return self.batches > 0 and self.accumulated_points >= self.cost_points

    def as_dict(self) -> dict:
        return {
            "labeled_batches_since_promotion": self.batches,
            "accumulated_gain_points": round(self.accumulated_points, 4),
            "retrain_cost_points": self.cost_points,
            "net_points": round(self.accumulated_points - self.cost_points, 4),
            "expected_gain_points_per_batch": round(self.newest_gain_points, 4),
        }


def regret(gains: list[float], cost_points: float) -> Regret:
    """`gains` (accuracy, 0..1) of the champion's labeled batches in order, against `cost_points`."""
    points = [100 * g for g in gains]
    return Regret(len(points), float(sum(points)), cost_points, points[-1] if points else 0.0)
