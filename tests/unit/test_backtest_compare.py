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


def replay(accuracy: list, retrains: int, retrained_at: list) -> dict:
    """A `summarize`d replay: every field `combine` reads."""
    return {
        **result(accuracy, retrains),
        "mean_roc_auc": 0.5 + retrains / 100,
        "batches": len(accuracy),
        "elapsed_s": 10.0 * retrains,
        "roc_auc": [None if a is None else a - 0.1 for a in accuracy],
        "retrained_at": retrained_at,
    }


def test_one_seed_is_its_own_result():
    one = replay([None, 0.7, 0.8], 2, [0, 1])
    assert backtest.combine({4: one}) is one


def test_several_seeds_are_averaged_batch_by_batch_and_kept_one_by_one():
    rng = np.random.default_rng(5)
    runs = {s: replay([None, *rng.uniform(0.5, 0.9, 6)], n, at) for s, n, at in [(0, 4, [0, 2]), (1, 3, [0, 3, 5])]}
    both = backtest.combine(runs)
    assert both["accuracy"][0] is None
    assert both["accuracy"][1:] == pytest.approx((np.array(runs[0]["accuracy"][1:]) + runs[1]["accuracy"][1:]) / 2)
    assert both["mean_accuracy"] == pytest.approx(np.mean(both["accuracy"][1:]))
    assert both["mean_roc_auc"] == pytest.approx((runs[0]["mean_roc_auc"] + runs[1]["mean_roc_auc"]) / 2)
    assert both["retrains"] == 3.5 and both["elapsed_s"] == 70.0
    assert both["retrained_at"] == [0, 2, 3, 5]
    assert both["by_seed"] == {"0": runs[0], "1": runs[1]}


def test_under_several_seeds_each_seed_is_compared_with_the_same_seed_of_the_baseline():
    every = {0: replay([0.70, 0.72, 0.74], 3, [0, 1, 2]), 1: replay([0.75, 0.75, 0.75], 3, [0, 1, 2])}
    auto = {0: replay([0.69, 0.72, 0.71], 1, [1]), 1: replay([0.76, 0.74, 0.78], 2, [0, 2])}
    results = backtest.compare({"periodic:1": backtest.combine(every), "auto": backtest.combine(auto)}, "periodic:1")
    v = results["auto"]["vs_baseline"]
    by_seed = {s: 100 * np.mean(np.subtract(auto[s]["accuracy"], every[s]["accuracy"])) for s in (0, 1)}
    assert v["gap_by_seed_points"] == pytest.approx({"0": by_seed[0], "1": by_seed[1]})
    assert v["accuracy_gap_points"] == pytest.approx(np.mean(list(by_seed.values())))
    assert v["retrain_share"] == pytest.approx(1.5 / 3)
    text = backtest.table(results)
    line = next(line for line in text.splitlines() if line.startswith("auto"))
    low, high = sorted(by_seed.values())
    assert f"[{low:+.2f}, {high:+.2f}]" in line and " 1.5 " in line and "50%" in line
    assert "under 2 seeds" in text and "seed by seed" in text
    single = backtest.compare({"periodic:1": every[0], "auto": auto[0]}, "periodic:1")
    assert "gap_by_seed_points" not in single["auto"]["vs_baseline"]
    assert "seed by seed" not in backtest.table(single)


def test_each_policy_meets_the_best_fixed_policy_that_retrained_no_more_often():
    results = {
        "auto": result([0.8, 0.7, 0.9, 0.8], 3),
        "fixed:1:100": result([0.9, 0.9, 0.9, 0.9], 4),  # better, but more retrains: not a rival
        "fixed:2:100": result([0.7, 0.7, 0.8, 0.8], 2),
        "fixed:3:100": result([0.6, 0.7, 0.8, 0.7], 1),
        "never": result([0.5, 0.5, 0.5, 0.5], 0),
    }
    out = backtest.best_fixed(results)
    rival = out["auto"]["vs_best_fixed"]
    assert rival["baseline"] == "fixed:2:100"
    assert rival["accuracy_gap_points"] == pytest.approx(100 * (0.8 - 0.75))
    assert out["never"]["vs_best_fixed"] is None  # no fixed policy retrained as rarely
    assert "vs_best_fixed" not in out["fixed:2:100"]
    text = backtest.table(out)
    assert "auto against the best fixed policy at no more retrains, fixed:2:100 (0.7500): +5.00 points" in text
    assert "never: no fixed policy retrained as rarely" in text
