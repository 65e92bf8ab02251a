"""Label-free performance estimation: what the model's accuracy and ROC AUC on a batch are likely
to be before its labels arrive (confidence-based performance estimation, CBPE, as NannyML
documents it).

How it works. If a row's calibrated probability is `p`, its label is 1 with probability `p`. The
model decides on its raw score (`score >= threshold`), so a row decided 1 is right with
probability `p` and a row decided 0 with probability `1 - p`: the batch's expected accuracy is the
mean of those. The expected ROC AUC is read off the expected ROC curve: rows sorted by raw score,
highest first, each contributes `p` expected true positives and `1 - p` expected false positives;
the cumulative sums, divided by their totals, are the curve's TPR and FPR (rows with tied raw
scores enter together, as one step), and the area under it is the estimate. The band around
either figure is the sampling noise of the realized figure: labels drawn as Bernoulli(p), the
figure computed per draw, its central quantiles kept. It says how far the realized figure may
fall from the estimate even when the estimate is right; it does not cover a wrong calibration.

Why calibrate, and why isotonic on the holdout. The raw scores of a boosted model are not
probabilities (they are often too sure, or not sure enough), and CBPE is only as good as `p` is
calibrated. The holdout is data the model was not fitted on, labeled, from the training
distribution: the honest place to learn the map from score to the rate of positives. Isotonic
regression is that map with no shape assumed but monotony (a higher score never means a lower
probability), so it keeps the model's ranking and fixes any bend in its calibration; it needs a
few thousand holdout rows to be smooth (with few rows its steps are coarse, and the estimate
inherits their noise). `error_after` is measured out of fold, so it does not flatter the map.

The assumption. CBPE assumes P(y | x) is unchanged since the holdout: only the inputs may move
(covariate shift). Strictly it needs P(y | score) unchanged, since the map works on the score, not
on x: with a model close to P(y | x) the two are one; where an imperfect model is over- or
underconfident in the region the inputs moved into, the estimate inherits it (on the generated
covariate_shift stream, a point of accuracy on one seed in twenty; see tests/unit/test_estimation.py).
Under concept drift the labels stop following the probabilities: the estimate stays where the model's
confidence is while the realized figure falls. CBPE cannot see that; it is what realized
performance (once labels arrive) and the decay detector are for.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import rankdata
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import StratifiedKFold

from cl_assets.lib.modeling import calibration_error

EPSILON = 1e-4  # calibrated probabilities stay in [EPSILON, 1 - EPSILON]
FOLDS = 5  # cross-fitting folds of the honest calibration error
MIN_ROWS = 20  # fewer holdout rows than this: no map is learned (identity)
SIMULATED_CELLS = 2_000_000  # simulated labels held in memory at once by estimate's band


@dataclass(frozen=True)
class Calibrator:
    """Isotonic map from the model's raw score to a calibrated probability, fitted on the holdout.

    Between knots the map is linear, beyond the end knots flat (np.interp)."""

    thresholds: tuple[float, ...]  # x knots (raw scores), increasing
    values: tuple[float, ...]  # calibrated probabilities at the knots, non-decreasing
    rows: int  # holdout rows it was fitted on
    error_before: float  # expected calibration error (modeling.calibration_error) of the raw scores on the holdout
    error_after: float  # of the calibrated scores, measured out of fold (cross-fitted), so it is honest

    def __post_init__(self):
        if len(self.thresholds) != len(self.values) or len(self.thresholds) < 2:
            raise ValueError("a calibrator needs at least two knots, as many thresholds as values")
        if np.any(np.diff(self.thresholds) < 0) or np.any(np.diff(self.values) < 0):
            raise ValueError("a calibrator's thresholds and values must not decrease")

    @property
    def identity(self) -> bool:
        return self.thresholds == (0.0, 1.0) and self.values == (0.0, 1.0)

    def apply(self, score) -> np.ndarray:
        """Calibrated probabilities of raw scores, clipped to [1e-4, 1 - 1e-4]."""
        p = np.interp(np.asarray(score, dtype=float), self.thresholds, self.values)
        return np.clip(p, EPSILON, 1 - EPSILON)

    def to_dict(self) -> dict:
        """JSON-storable: lists of floats and plain numbers."""
        return {
            "thresholds": [float(t) for t in self.thresholds],
            "values": [float(v) for v in self.values],
            "rows": int(self.rows),
            "error_before": float(self.error_before),
            "error_after": float(self.error_after),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Calibrator:
        return cls(
            thresholds=tuple(float(t) for t in d["thresholds"]),
            values=tuple(float(v) for v in d["values"]),
            rows=int(d["rows"]),
            error_before=float(d["error_before"]),
            error_after=float(d["error_after"]),
        )


def _checked(labels, score) -> tuple[np.ndarray, np.ndarray]:
    labels, score = np.asarray(labels), np.asarray(score, dtype=float)
    if labels.ndim != 1 or labels.shape != score.shape:
        raise ValueError(
            f"labels and scores must be two 1-d arrays of one length, not {labels.shape} and {score.shape}"
        )
    if not np.all(np.isfinite(score)) or np.any((score < 0) | (score > 1)):
        raise ValueError("scores must be finite probabilities in [0, 1]")
    if not np.all(np.isin(labels, (0, 1))):
        raise ValueError("labels must be 0 or 1")
    return labels.astype(int), score


def _knots(labels: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The isotonic fit's knots: sklearn keeps the two ends of each block of equal fitted values."""
    model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(score, labels)
    x, y = model.X_thresholds_, model.y_thresholds_
    if len(x) < 2:  # every score equal: a flat map at the rate of positives
        x, y = np.array([0.0, 1.0]), np.repeat(y[:1], 2)
    return x, y


def identity() -> Calibrator:
    """The map that leaves scores as they are (a model with no calibrator recorded)."""
    return Calibrator((0.0, 1.0), (0.0, 1.0), 0, float("nan"), float("nan"))


def fit_calibrator(labels, score, seed: int = 0) -> Calibrator:
    """The isotonic map of the holdout's labels on its raw scores.

    With fewer than 20 rows, or fewer than two rows of either class, there is nothing to learn a
    map from: the calibrator is the identity (knots 0 and 1), and both errors are the raw one."""
    labels, score = _checked(labels, score)
    rows = len(labels)
    before = calibration_error(labels, score) if rows else 0.0
    minority = int(min(labels.sum(), rows - labels.sum()))
    if rows < MIN_ROWS or minority < 2:
        return Calibrator((0.0, 1.0), (0.0, 1.0), rows, before, before)
    thresholds, values = _knots(labels, score)
    out_of_fold = np.empty(rows)
    folds = StratifiedKFold(n_splits=min(FOLDS, minority), shuffle=True, random_state=seed)
    for fit_rows, held_rows in folds.split(score, labels):
        x, y = _knots(labels[fit_rows], score[fit_rows])
        out_of_fold[held_rows] = np.interp(score[held_rows], x, y)
    after = calibration_error(labels, np.clip(out_of_fold, EPSILON, 1 - EPSILON))
    return Calibrator(tuple(map(float, thresholds)), tuple(map(float, values)), rows, before, after)


@dataclass(frozen=True)
class Estimate:
    """Expected accuracy and ROC AUC of one batch, each with the band the realized figure should fall in."""

    rows: int
    accuracy: float
    accuracy_low: float
    accuracy_high: float
    roc_auc: float | None  # None with fewer than two rows
    roc_auc_low: float | None
    roc_auc_high: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def expected_accuracy(p: np.ndarray, decided: np.ndarray) -> float:
    """Mean probability that each row's decision is right: p where decided 1, 1 - p where decided 0."""
    return float(np.mean(np.where(decided, p, 1 - p)))


def expected_roc_auc(score: np.ndarray, p: np.ndarray) -> float:
    """Area under the expected ROC curve (NannyML's CBPE): rows by raw score, highest first, add
    p expected positives and 1 - p expected negatives each; tied raw scores make one step."""
    order = np.argsort(-score, kind="stable")
    s, q = score[order], p[order]
    last = np.r_[s[1:] != s[:-1], True]  # the last row of each run of tied scores
    tp = np.r_[0.0, np.cumsum(q)[last]]
    fp = np.r_[0.0, np.cumsum(1 - q)[last]]
    tpr, fpr = tp / tp[-1], fp / fp[-1]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def _simulated(
    score: np.ndarray, p: np.ndarray, decided: np.ndarray, draws: int, seed: int, with_auc: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Realized accuracy and ROC AUC of `draws` label vectors drawn as Bernoulli(p), a few draws
    at a time (at most about SIMULATED_CELLS labels in memory). AUC by ranks: the raw scores'
    ranks, ties averaged as ROC AUC counts them half, summed over each draw's positives; a draw
    with one class has no AUC and is left out."""
    rng = np.random.default_rng(seed)
    ranks = rankdata(score)
    rows = len(score)
    accuracies, aucs = [], []
    step = max(1, SIMULATED_CELLS // rows)
    for start in range(0, draws, step):
        labels = rng.random((min(step, draws - start), rows)) < p  # one simulated batch per matrix row
        accuracies.append(np.mean(labels == decided, axis=1))
        if with_auc:
            positives = labels.sum(axis=1).astype(float)
            negatives = rows - positives
            both = (positives > 0) & (negatives > 0)
            rank_sums = labels[both].astype(float) @ ranks
            aucs.append((rank_sums - positives[both] * (positives[both] + 1) / 2) / (positives[both] * negatives[both]))
    return np.concatenate(accuracies), np.concatenate(aucs) if aucs else np.empty(0)


def estimate(
    score, calibrator: Calibrator, threshold: float = 0.5, band: float = 0.95, draws: int = 200, seed: int = 0
) -> Estimate:
    """CBPE of a batch from its raw scores alone (see the module docstring).

    Decisions are `score >= threshold` on the raw score; `band` is the central share of the
    simulated realized figures (labels drawn `draws` times as Bernoulli of the calibrated
    probabilities, seeded by `seed`) between each figure's low and high."""
    score = np.asarray(score, dtype=float)
    if score.ndim != 1 or not len(score):
        raise ValueError("estimate needs a non-empty 1-d array of scores")
    if not np.all(np.isfinite(score)):
        raise ValueError("scores must be finite")
    if not 0 < band < 1 or draws < 1:
        raise ValueError("band must be in (0, 1) and draws at least 1")
    rows = len(score)
    p = calibrator.apply(score)
    decided = score >= threshold
    accuracy = expected_accuracy(p, decided)
    roc_auc = expected_roc_auc(score, p) if rows >= 2 else None

    accuracies, aucs = _simulated(score, p, decided, draws, seed, with_auc=roc_auc is not None)
    quantiles = [(1 - band) / 2, 1 - (1 - band) / 2]
    acc_low, acc_high = (float(v) for v in np.quantile(accuracies, quantiles))
    auc_low = auc_high = None
    if len(aucs):
        auc_low, auc_high = (float(v) for v in np.quantile(aucs, quantiles))
    return Estimate(rows, accuracy, acc_low, acc_high, roc_auc, auc_low, auc_high)
