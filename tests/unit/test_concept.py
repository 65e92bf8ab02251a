"""Concept-drift bands: standard errors by their textbook formulas, and what the band lets through."""

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from cl_assets.lib import concept


def test_accuracy_band_combines_both_samples_binomial_errors():
    out = concept.bands(
        {"rows": 400, "accuracy": 0.8, "roc_auc": None, "positive_rate": 0.5},
        {"rows": 900, "accuracy": 0.7, "roc_auc": None, "positive_rate": 0.5},
        z=2.0,
    )
    se = math.sqrt(0.8 * 0.2 / 400 + 0.7 * 0.3 / 900)
    assert out["accuracy_band_low"] == pytest.approx(0.8 - 2 * se)
    assert out["roc_auc_band_low"] is None
    assert out["target_drift_p_value"] == pytest.approx(1.0)


def test_the_band_narrows_as_batches_grow():
    ref = {"rows": 1000, "accuracy": 0.8, "roc_auc": 0.85, "positive_rate": 0.4}
    lows = [concept.bands(ref, {**ref, "rows": n}, 1.96)["roc_auc_band_low"] for n in (100, 1000, 10000)]
    assert lows[0] < lows[1] < lows[2] < 0.85


def test_hanley_mcneil_matches_the_bootstrap_spread_of_auc():
    rng = np.random.default_rng(5)
    pos, neg = 300, 500
    y = np.r_[np.ones(pos), np.zeros(neg)]
    s = np.r_[rng.normal(1, 1, pos), rng.normal(0, 1, neg)]
    auc = roc_auc_score(y, s)
    boots = []
    for _ in range(300):
        i = np.r_[rng.integers(0, pos, pos), pos + rng.integers(0, neg, neg)]
        boots.append(roc_auc_score(y[i], s[i]))
    assert concept.auc_se(auc, pos, neg) == pytest.approx(np.std(boots), rel=0.25)


def test_a_label_rate_change_is_target_drift():
    ref = {"rows": 2000, "accuracy": 0.7, "roc_auc": 0.75, "positive_rate": 0.5}
    same = concept.bands(ref, {**ref, "positive_rate": 0.51}, 1.96)["target_drift_p_value"]
    moved = concept.bands(ref, {**ref, "positive_rate": 0.75}, 1.96)["target_drift_p_value"]
    assert same > 0.05 and moved < 1e-6
