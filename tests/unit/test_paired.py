"""Paired differences of two models on the same rows: DeLong's ROC AUC error and log loss's."""

import numpy as np
import pytest
from scipy.stats import rankdata

from cl_assets.lib.paired import auc_difference_se, log_loss_difference_se


def two_models(rows: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, rows)
    shared = rng.normal(size=rows)  # what both models see: their scores are correlated
    first = 1 / (1 + np.exp(-(1.0 * labels + shared + rng.normal(size=rows) * 0.5)))
    second = 1 / (1 + np.exp(-(0.9 * labels + shared + rng.normal(size=rows) * 0.7)))
    return labels, first, second


def roc_auc(labels, score) -> float:
    """Mann-Whitney: the share of (positive, negative) pairs the score orders right."""
    ranks = rankdata(score)
    m = labels.sum()
    n = len(labels) - m
    return float((ranks[labels == 1].sum() - m * (m + 1) / 2) / (m * n))


def log_loss(labels, score) -> float:
    return float(-np.mean(labels * np.log(score) + (1 - labels) * np.log(1 - score)))


def bootstrap(labels, first, second, metric, draws=1500, seed=1) -> float:
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(draws):
        i = rng.integers(0, len(labels), len(labels))
        diffs.append(metric(labels[i], first[i]) - metric(labels[i], second[i]))
    return float(np.std(diffs))


@pytest.mark.parametrize("rows", [200, 1000])
def test_delong_agrees_with_a_bootstrap_of_the_paired_difference(rows):
    labels, first, second = two_models(rows)
    expected = bootstrap(labels, first, second, roc_auc)
    assert auc_difference_se(labels, first, second) == pytest.approx(expected, rel=0.1)


def test_log_loss_error_agrees_with_a_bootstrap():
    labels, first, second = two_models(500, seed=3)
    expected = bootstrap(labels, first, second, log_loss)
    assert log_loss_difference_se(labels, first, second) == pytest.approx(expected, rel=0.1)


def test_the_error_shrinks_with_the_rows_and_vanishes_for_one_model():
    small, large = auc_difference_se(*two_models(400)), auc_difference_se(*two_models(6400))
    assert large == pytest.approx(small / 4, rel=0.25)
    labels, first, _ = two_models(300)
    assert auc_difference_se(labels, first, first) == pytest.approx(0.0, abs=1e-12)
    assert log_loss_difference_se(labels, first, first) == 0.0


def test_one_class_has_no_auc_error():
    assert auc_difference_se(np.ones(10), np.linspace(0, 1, 10), np.linspace(1, 0, 10)) is None
