"""Drift statistics: KS / chi-squared agree with scipy, PSI behaves, and the flagging rule."""

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cl_assets.lib import drift


def ecdf_distance(a: np.ndarray, b: np.ndarray) -> float:
    """max |F_a - F_b| over the pooled sample, written out by hand."""
    grid = np.concatenate([a, b])
    fa = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    fb = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


@pytest.mark.parametrize(
    ("seed", "n_ref", "n_cur", "shift"), [(0, 500, 700, 0.0), (1, 1000, 300, 0.3), (2, 50, 80, 1.0)]
)
def test_numeric_ks_matches_scipy_asymptotic(seed, n_ref, n_cur, shift):
    rng = np.random.default_rng(seed)
    ref = rng.normal(0, 1, n_ref)
    cur = rng.normal(shift, 1.3, n_cur)
    result = drift.numeric(ref, cur)
    expected = stats.ks_2samp(ref, cur, method="asymp")
    assert result["method"] == "ks"
    assert result["statistic"] == pytest.approx(ecdf_distance(ref, cur), abs=1e-9)
    assert result["statistic"] == pytest.approx(expected.statistic, abs=1e-9)
    assert result["p_value"] == pytest.approx(expected.pvalue, abs=1e-9)


def test_numeric_ignores_non_finite_values():
    rng = np.random.default_rng(3)
    ref, cur = rng.normal(0, 1, 400), rng.normal(0.2, 1, 400)
    dirty = np.concatenate([cur, [np.nan, np.inf, -np.inf]])
    result = drift.numeric(ref, dirty)
    assert result["p_value"] == pytest.approx(stats.ks_2samp(ref, cur, method="asymp").pvalue, abs=1e-9)
    assert np.isfinite(result["psi"])


@pytest.mark.parametrize(
    ("ref", "cur"),
    [
        (["a"] * 30 + ["b"] * 50 + ["c"] * 20, ["a"] * 45 + ["b"] * 35 + ["c"] * 20),
        (["x"] * 10 + ["y"] * 90, ["x"] * 12 + ["y"] * 80 + ["z"] * 8),  # z unseen in the reference
        (["p", "q", None, "q"] * 25, ["p", "p", "q", None] * 30),  # nulls are a category of their own
    ],
)
def test_categorical_chi2_matches_scipy_on_hand_built_table(ref, cur):
    key = lambda v: "<null>" if v is None else v  # noqa: E731
    ref_counts, cur_counts = Counter(map(key, ref)), Counter(map(key, cur))
    categories = sorted(set(ref_counts) | set(cur_counts))
    table = np.array([[ref_counts[c], cur_counts[c]] for c in categories], dtype=float)
    statistic, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    result = drift.categorical(pd.Series(ref), pd.Series(cur))
    assert result["method"] == "chi2"
    assert result["statistic"] == pytest.approx(statistic, rel=1e-9)
    assert result["p_value"] == pytest.approx(p_value, rel=1e-9, abs=1e-12)


def test_categorical_psi_by_hand():
    ref = pd.Series(["a"] * 50 + ["b"] * 50)
    cur = pd.Series(["a"] * 25 + ["b"] * 75)
    expected = (0.25 - 0.5) * np.log(0.25 / 0.5) + (0.75 - 0.5) * np.log(0.75 / 0.5)
    assert drift.categorical(ref, cur)["psi"] == pytest.approx(expected, rel=1e-12)


def test_unseen_category_gives_positive_finite_psi():
    ref = pd.Series(["web"] * 60 + ["store"] * 40)
    cur = pd.Series(["web"] * 45 + ["store"] * 30 + ["app"] * 25)
    psi = drift.categorical(ref, cur)["psi"]
    # the unseen category alone contributes (0.25 - floor) * ln(0.25 / floor), floor = 1e-4
    assert np.isfinite(psi)
    assert psi >= (0.25 - 1e-4) * np.log(0.25 / 1e-4)


def test_psi_is_zero_for_the_same_sample_and_grows_with_the_shift():
    rng = np.random.default_rng(4)
    ref = rng.normal(0, 1, 5000)
    assert drift.numeric(ref, ref.copy())["psi"] == pytest.approx(0.0, abs=1e-12)
    base = rng.normal(0, 1, 5000)
    psis = [drift.numeric(ref, base + shift)["psi"] for shift in (0.0, 0.25, 0.5, 1.0)]
    assert psis[0] < 0.02
    assert all(a < b for a, b in zip(psis, psis[1:], strict=False)), psis
    assert psis[-1] > 0.5


def test_compare_flags_a_shifted_column_and_not_an_unchanged_one():
    rng = np.random.default_rng(5)
    n = 2000
    reference = pd.DataFrame(
        {"steady": rng.normal(0, 1, n), "moved": rng.normal(0, 1, n), "cat": rng.choice(list("abc"), n)}
    )
    current = pd.DataFrame(
        {"steady": rng.normal(0, 1, n), "moved": rng.normal(1.0, 1, n), "cat": rng.choice(list("abc"), n)}
    )
    report = drift.compare(reference, current, ["steady", "moved"], ["cat"], drift.DriftThresholds()).set_index(
        "feature"
    )
    assert list(report.columns) == ["kind", "method", "statistic", "p_value", "psi", "drifted"]
    assert report.loc["moved", "drifted"]
    assert not report.loc["steady", "drifted"]
    assert not report.loc["cat", "drifted"]
    assert report.loc["cat", "kind"] == "categorical" and report.loc["moved", "kind"] == "numeric"


def test_large_sample_tiny_shift_is_significant_but_not_drift():
    rng = np.random.default_rng(6)
    n = 400_000
    reference = pd.DataFrame({"x": rng.normal(0, 1, n)})
    current = pd.DataFrame({"x": rng.normal(0.03, 1, n)})
    thresholds = drift.DriftThresholds(alpha=0.01, psi_threshold=0.1)
    row = drift.compare(reference, current, ["x"], [], thresholds).iloc[0]
    assert row["p_value"] < thresholds.alpha  # significant, even after correcting for one column
    assert row["psi"] < thresholds.psi_threshold
    assert not row["drifted"]


def test_bonferroni_correction_over_the_columns_tested():
    # 20/20 vs 8/32: chi-squared p ~ 0.005 with a large PSI
    ref = ["a"] * 20 + ["b"] * 20
    cur = ["a"] * 8 + ["b"] * 32
    _, p_value, _, _ = stats.chi2_contingency(np.array([[20, 8], [20, 32]]), correction=False)
    assert 0.001 < p_value < 0.01
    thresholds = drift.DriftThresholds(alpha=0.01, psi_threshold=0.1)
    reference, current = pd.DataFrame({"hot": ref}), pd.DataFrame({"hot": cur})
    alone = drift.compare(reference, current, [], ["hot"], thresholds).set_index("feature")
    assert alone.loc["hot", "p_value"] == pytest.approx(p_value)
    assert alone.loc["hot", "psi"] >= thresholds.psi_threshold
    assert alone.loc["hot", "drifted"]  # 0.005 < 0.01 / 1

    quiet = [f"q{i}" for i in range(9)]
    for col in quiet:
        reference[col] = np.arange(40.0)
        current[col] = np.arange(40.0)
    among_ten = drift.compare(reference, current, quiet, ["hot"], thresholds).set_index("feature")
    assert len(among_ten) == 10
    assert among_ten.loc["hot", "p_value"] == pytest.approx(p_value)
    assert not among_ten["drifted"].any()  # 0.005 >= 0.01 / 10
