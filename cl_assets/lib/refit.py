"""Does a retrain pay? The accuracy the champion lost to a refit, summed since its promotion, against
the stated cost of one retrain.

When a batch's labels arrive, the candidate windows are fitted on the batches before it and
scored on it (`lib/windows.py`). Their accuracy minus the champion's (both decided the same
rows, before the labels existed) is the *gain* of having retrained one batch earlier. The gain
of the window chosen on the batch would be read off the same rows that chose it: the best of
seven noisy scores is biased upwards (the winner's curse), by about a standard error on a
stationary stream, which alone would buy a retrain every few batches. So the gain is *priced*
by cross-selection: the batch's rows are split in two, the window is chosen on each half and
its gain counted on the other, and the two halves make one unbiased estimate with its paired
standard error (`priced`).

A retrain is worth it once the accuracy lost by not retraining, summed over the labeled
batches since the champion was promoted, reaches the cost of one retrain (`cost_points`, in
accuracy points over one batch): the rent-or-buy rule. Paying rent (keeping a champion that
loses) until the rent paid equals the price of buying (a retrain) never costs more than twice
the best decision made in hindsight, whatever the stream does, and it adapts by itself: a
stream with no change accumulates next to nothing, a concept change accumulates its whole drop
in one batch and is retrained at once, a slow drift is retrained as often as its losses add up
to the cost. The rent is measured, not known, so the sum must clear the cost by `z` standard
errors of the sum (the per-batch errors added in quadrature): on small batches, where one
batch's gain is a point or two of noise, a random walk of noise alone does not buy retrains;
on large batches, or a large drop, the bound is close to the sum. The gains are not clipped at
zero: batches on which the champion beats the refit (it was tuned, the refit was not) pay the
rent back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cl_assets.lib import windows
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


def priced(
    scores: list[Score], champion_correct: np.ndarray, labels: np.ndarray, seed: int = 0
) -> tuple[Gain, list[str]]:
    """The gain of choosing a window and retraining on it, without the winner's curse: the batch's
    rows in two seeded halves, the window chosen (lowest log loss) on each half and its gain over
    the champion counted on the other. Returns the gain and the two halves' windows."""
    champion_correct = np.asarray(champion_correct, dtype=float)
    labels = np.asarray(labels, dtype=int)
    n = len(labels)
    if n < 2:
        best = windows.choose(scores)
        return gain(best, champion_correct), [best.window.name]
    half = np.random.default_rng(seed + 1).permutation(n) % 2 == 0
    refit_correct, names = np.empty(n), []
    for chooser in (half, ~half):
        pick = windows.choose(scores, labels, chooser)
        names.append(pick.window.name)
        refit_correct[~chooser] = pick.correct[~chooser]
    diff = refit_correct - champion_correct
    se = float(np.std(diff, ddof=1) / math.sqrt(n))
    return Gain(n, float(refit_correct.mean()), float(champion_correct.mean()), float(diff.mean()), se), names


@dataclass(frozen=True)
class Regret:
    """The gains since the champion's promotion, summed, against the cost of a retrain."""

    batches: int
    accumulated_points: float  # sum of the per-batch gains, in accuracy points
    se_points: float  # its standard error: the per-batch errors in quadrature
    z: float
    cost_points: float
    newest_gain_points: float

    @property
    def lower_points(self) -> float:
        """The sum less z standard errors: what the loss is at least, at that confidence."""
        return self.accumulated_points - (self.z * self.se_points if self.z else 0.0)

    @property
    def pays(self) -> bool:
        return self.batches > 0 and self.lower_points >= self.cost_points

    def as_dict(self) -> dict:
        return {
            "labeled_batches_since_promotion": self.batches,
            "accumulated_gain_points": round(self.accumulated_points, 4),
            "accumulated_gain_se_points": round(self.se_points, 4),
            "confidence_z": self.z,
            "lower_bound_points": round(self.lower_points, 4),
            "retrain_cost_points": self.cost_points,
            "net_points": round(self.lower_points - self.cost_points, 4),
            "expected_gain_points_per_batch": round(self.newest_gain_points, 4),
        }


def regret(gains: list[float], ses: list[float], cost_points: float, z: float) -> Regret:
    """`gains` (accuracy, 0..1) of the champion's labeled batches in order, with their standard
    errors `ses`, against `cost_points`, the sum cleared by `z` of its standard errors."""
    if len(gains) != len(ses):
        raise ValueError("one standard error per gain")
    points = [100 * g for g in gains]
    se = 100 * math.sqrt(sum(float(e) ** 2 for e in ses))  # an infinite one (one row) never clears
    return Regret(len(points), float(sum(points)), se, z, cost_points, points[-1] if points else 0.0)
