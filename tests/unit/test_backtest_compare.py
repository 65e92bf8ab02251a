"""Comparing policies batch by batch: the paired gap, its interval, the retrain share, the table."""

import numpy as np
import pytest
from scipy import stats

from cl_assets.lib import backtest


def result(accuracy: list, retrains: int) -> dict:
    scored = [a for a in accuracy if a is not None]
    return {
        "mean_accuracy": sum(scored) / len(scored),
        "mean_roc_auc": None,
        "retrains": retrains,
        "accuracy": accuracy,
    }


def test_the_gap_and_its_interval_are_scipys_paired_t_test():
    rng = np.random.default_rng(3)
    every = rng.uniform(0.6, 0.8, 30)
    auto = every - 0.004 + rng.normal(0, 0.01, 30)
    results = {"periodic:1": result([None, *every], 29), "auto": result([None, *auto], 10)}
    v = backtest.compare(results, "periodic:1")["auto"]["vs_baseline"]
    test = stats.ttest_rel(auto, every)
    low, high = test.confidence_interval(0.95)
    assert v["batches"] == 30 and v["baseline"] == "periodic:1"
    assert v["accuracy_gap_points"] == pytest.approx(100 * (auto - every).mean())
    assert v["ci95_points"] == pytest.approx([100 * low, 100 * high])
    assert v["se_points"] == pytest.approx(100 * (auto - every).mean() / test.statistic)
    assert v["retrain_share"] == pytest.approx(10 / 29)


def test_only_batches_both_policies_scored_are_paired():
    results = {"a": result([None, 0.7, 0.8, 0.6], 3), "b": result([0.5, None, 0.7, 0.7], 1)}
    v = backtest.compare(results, "a")["b"]["vs_baseline"]
    assert v["batches"] == 2
    assert v["accuracy_gap_points"] == pytest.approx(100 * ((0.7 - 0.8) + (0.7 - 0.6)) / 2)
    same = backtest.compare(results, "a")["a"]["vs_baseline"]
    assert same["accuracy_gap_points"] == 0 and same["retrain_share"] == 1


def test_an_unknown_baseline_is_refused_by_name():
    with pytest.raises(ValueError, match="baseline policy 'periodic:2' is not among the policies: a"):
        backtest.compare({"a": result([0.7, 0.7], 1)}, "periodic:2")


def test_the_table_shows_gap_interval_and_share_against_the_baseline():
    results = backtest.compare(
        {"periodic:1": result([0.70, 0.72, 0.74], 3), "auto": result([0.69, 0.72, 0.72], 1)}, "periodic:1"
    )
    text = backtest.table(results)
    auto = next(line for line in text.splitlines() if line.startswith("auto"))
    assert "-1.00" in auto and "33%" in auto
    assert "against periodic:1" in text
    assert "gap" not in backtest.table({k: {**v, "vs_baseline": None} for k, v in results.items()})
