"""Drift against a reference profile: the statistics agree with scipy, and `compare` flags what it should.

Every expected value is computed here, from the same data, with scipy or by hand; nothing is a
number copied from a previous run.
"""

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from cl_assets.lib import drift, reference

DECILES = np.linspace(0, 1, drift.BINS + 1)[1:-1]


def bin_shares(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Share of `values` per bin (-inf, e0], (e0, e1], ..., (e_last, inf), one value at a time."""
    index = np.searchsorted(edges, values, side="left")  # the number of edges strictly below the value
    return np.bincount(index, minlength=len(edges) + 1) / len(values)


def psi_by_hand(ref_share: np.ndarray, cur_share: np.ndarray) -> float:
    r = np.maximum(ref_share, drift.PSI_FLOOR)
    c = np.maximum(cur_share, drift.PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def sample(seed: int, n_ref: int, n_cur: int, shift: float, decimals: int | None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ref = rng.normal(0, 1, n_ref)
    cur = rng.normal(shift, 1.3, n_cur)
    if decimals is not None:  # rounding makes ties, within and across the two samples
        ref, cur = np.round(ref, decimals), np.round(cur, decimals)
    return ref, cur


SAMPLES = [
    pytest.param(0, 500, 700, 0.0, None, id="same-distribution"),
    pytest.param(1, 1000, 300, 0.3, None, id="shift-smaller-batch"),
    pytest.param(2, 50, 80, 1.0, None, id="small"),
    pytest.param(3, 2000, 2000, 0.1, 1, id="ties-1-decimal"),
    pytest.param(4, 300, 5000, 0.0, 0, id="ties-integers"),
    pytest.param(5, 20000, 9000, 0.5, None, id="tiny-p-value"),
]


# --- numeric statistics ---------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "n_ref", "n_cur", "shift", "decimals"), SAMPLES)
def test_ks_matches_scipy_asymptotic(seed, n_ref, n_cur, shift, decimals):
    ref, cur = sample(seed, n_ref, n_cur, shift, decimals)
    result = drift.numeric_stats(drift.numeric_profile("x", ref), cur)
    expected = stats.ks_2samp(ref, cur, method="asymp")
    assert result["method"] == "ks"
    assert result["rows"] == n_cur
    assert result["statistic"] == pytest.approx(expected.statistic, abs=1e-9)
    assert result["p_value"] == pytest.approx(expected.pvalue, abs=1e-9)
    assert result["p_value"] == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)  # tiny p-values too


@pytest.mark.parametrize(("seed", "n_ref", "n_cur", "shift", "decimals"), SAMPLES)
def test_wasserstein_is_scipys_divided_by_the_reference_std(seed, n_ref, n_cur, shift, decimals):
    ref, cur = sample(seed, n_ref, n_cur, shift, decimals)
    profile = drift.numeric_profile("x", ref)
    assert profile.std == pytest.approx(ref.std(), rel=1e-12)
    result = drift.numeric_stats(profile, cur)
    assert result["wasserstein"] == pytest.approx(stats.wasserstein_distance(ref, cur) / ref.std(), abs=1e-9)


@pytest.mark.parametrize(("seed", "n_ref", "n_cur", "shift", "decimals"), SAMPLES)
def test_js_and_psi_on_the_profile_bins(seed, n_ref, n_cur, shift, decimals):
    ref, cur = sample(seed, n_ref, n_cur, shift, decimals)
    profile = drift.numeric_profile("x", ref)
    # the bins are the reference's deciles (merged where ties make two deciles equal)
    np.testing.assert_allclose(profile.edges, np.unique(np.quantile(ref, DECILES)), rtol=0, atol=1e-12)
    ref_share, cur_share = bin_shares(profile.edges, ref), bin_shares(profile.edges, cur)
    np.testing.assert_allclose(profile.shares, ref_share, rtol=0, atol=1e-12)
    result = drift.numeric_stats(profile, cur)
    assert result["js"] == pytest.approx(distance.jensenshannon(ref_share, cur_share, base=2), abs=1e-9)
    assert result["psi"] == pytest.approx(psi_by_hand(ref_share, cur_share), rel=1e-9, abs=1e-12)


def test_non_finite_values_are_ignored_on_both_sides():
    rng = np.random.default_rng(7)
    ref, cur = rng.normal(0, 1, 800), rng.normal(0.2, 1.1, 600)
    junk = np.array([np.nan, np.inf, -np.inf, np.nan])
    dirty_ref, dirty_cur = rng.permutation(np.r_[ref, junk]), rng.permutation(np.r_[cur, junk])
    dirty = drift.numeric_stats(drift.numeric_profile("x", dirty_ref), pd.Series(dirty_cur))
    clean = drift.numeric_stats(drift.numeric_profile("x", ref), cur)
    assert dirty["rows"] == len(cur)
    expected = stats.ks_2samp(ref, cur, method="asymp")
    assert dirty["statistic"] == pytest.approx(expected.statistic, abs=1e-9)
    assert dirty["p_value"] == pytest.approx(expected.pvalue, abs=1e-9)
    assert dirty["wasserstein"] == pytest.approx(stats.wasserstein_distance(ref, cur) / ref.std(), abs=1e-9)
    for key in ("psi", "js"):
        assert np.isfinite(dirty[key])
        assert dirty[key] == pytest.approx(clean[key], abs=1e-12)


def test_no_finite_values_gives_nan_statistics():
    profile = drift.numeric_profile("x", np.random.default_rng(8).normal(0, 1, 100))
    result = drift.numeric_stats(profile, [np.nan, np.inf])
    assert result["rows"] == 0
    assert all(np.isnan(result[key]) for key in ("statistic", "p_value", "psi", "wasserstein", "js"))


def test_psi_is_zero_for_the_same_data_and_grows_with_the_shift():
    rng = np.random.default_rng(9)
    ref = rng.normal(0, 1, 5000)
    profile = drift.numeric_profile("x", ref)
    same = drift.numeric_stats(profile, ref[::-1].copy())
    assert same["psi"] == pytest.approx(0.0, abs=1e-12)
    assert same["js"] == pytest.approx(0.0, abs=1e-6)
    assert same["wasserstein"] == pytest.approx(0.0, abs=1e-12)
    assert same["statistic"] == pytest.approx(0.0, abs=1e-12)
    base = rng.normal(0, 1, 5000)
    shifted = [drift.numeric_stats(profile, base + shift) for shift in (0.0, 0.25, 0.5, 1.0, 2.0)]
    for key in ("psi", "js", "wasserstein", "statistic"):
        values = [r[key] for r in shifted]
        assert all(a < b for a, b in zip(values, values[1:], strict=False)), (key, values)

    categories = pd.Series(rng.choice(list("abcd"), 4000, p=[0.4, 0.3, 0.2, 0.1]))
    cat_profile = drift.categorical_profile("c", categories)
    assert drift.categorical_stats(cat_profile, categories.sample(frac=1, random_state=0))["psi"] == pytest.approx(
        0.0, abs=1e-12
    )
    psis = [
        drift.categorical_stats(cat_profile, pd.Series(rng.choice(list("abcd"), 4000, p=p)))["psi"]
        for p in ([0.4, 0.3, 0.2, 0.1], [0.3, 0.3, 0.2, 0.2], [0.2, 0.2, 0.3, 0.3], [0.1, 0.2, 0.3, 0.4])
    ]
    assert all(a < b for a, b in zip(psis, psis[1:], strict=False)), psis


# --- categorical statistics -----------------------------------------------------------------


def key(value) -> str:
    return drift.NULL if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


@pytest.mark.parametrize(
    ("ref", "cur"),
    [
        pytest.param(["a"] * 30 + ["b"] * 50 + ["c"] * 20, ["a"] * 45 + ["b"] * 35 + ["c"] * 20, id="shares-move"),
        pytest.param(["x"] * 10 + ["y"] * 90, ["x"] * 12 + ["y"] * 70 + ["z"] * 8, id="unseen-category"),
        pytest.param(["p", "q", None, "q"] * 25, ["p", "p", "q", np.nan] * 30, id="nulls"),
        pytest.param(["u", "v", "w"] * 40, ["u", "v"] * 40 + ["new", "other"] * 5, id="missing-and-unseen"),
    ],
)
def test_categorical_stats_match_scipy_and_hand_counts(ref, cur):
    ref_counts, cur_counts = Counter(map(key, ref)), Counter(map(key, cur))
    categories = sorted(set(ref_counts) | set(cur_counts))
    table = np.array([[ref_counts[c], cur_counts[c]] for c in categories], dtype=float)
    statistic, p_value, dof, _ = stats.chi2_contingency(table, correction=False)
    ref_share, cur_share = table[:, 0] / table[:, 0].sum(), table[:, 1] / table[:, 1].sum()

    result = drift.categorical_stats(drift.categorical_profile("c", pd.Series(ref)), pd.Series(cur))
    assert result["method"] == "chi2"
    assert result["rows"] == len(cur)
    assert result["statistic"] == pytest.approx(statistic, rel=1e-9)
    assert result["p_value"] == pytest.approx(p_value, rel=1e-9, abs=1e-15)
    assert result["linf"] == pytest.approx(np.abs(ref_share - cur_share).max(), abs=1e-12)
    unseen = sum(n for c, n in cur_counts.items() if c not in ref_counts)
    assert result["unseen_share"] == pytest.approx(unseen / len(cur), abs=1e-12)
    assert result["psi"] == pytest.approx(psi_by_hand(ref_share, cur_share), rel=1e-9)
    assert result["js"] == pytest.approx(distance.jensenshannon(ref_share, cur_share, base=2), abs=1e-9)


def test_integer_categories_keep_their_identity_when_a_batch_has_nulls():
    profile = drift.categorical_profile("c", pd.Series([1, 2, 3] * 20))
    result = drift.categorical_stats(profile, pd.Series([1, 2, 3] * 20 + [None]))
    assert result["unseen_share"] == pytest.approx(1 / 61)  # only the null is new
    assert drift.as_category(pd.Series([1.5, None]))[0] == "1.5"


# --- the verdict ----------------------------------------------------------------------------


def frame_of(rng: np.random.Generator, n: int, moved: float = 0.0, cat_p=(0.5, 0.3, 0.2)) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "steady": rng.normal(0, 1, n),
            "moved": rng.normal(moved, 1, n),
            "cat": rng.choice(list("abc"), n, p=list(cat_p)),
        }
    )


def build(frame: pd.DataFrame, numeric: list[str], categorical: list[str], slice_column: str | None = None):
    return reference.build(frame, numeric, categorical, "score", slice_column)


def test_compare_flags_a_moved_column_and_not_a_steady_one():
    rng = np.random.default_rng(10)
    profiles = build(frame_of(rng, 3000), ["steady", "moved"], ["cat"])
    report = drift.compare(profiles, frame_of(rng, 2000, moved=1.0), drift.Policy()).set_index("feature")
    assert list(report.columns) == [c for c in drift.COLUMNS if c != "feature"]
    assert set(report.index) == {"steady", "moved", "cat"}
    assert (report["slice"] == drift.ALL).all()
    assert report.loc["moved", "drifted"]
    assert not report.loc["steady", "drifted"]
    assert not report.loc["cat", "drifted"]
    assert report.loc["cat", "kind"] == "categorical" and report.loc["moved", "kind"] == "numeric"
    # the effect is the PSI, the threshold the policy's, alpha is split over the three tests
    assert (report["effect"] == report["psi"]).all()
    assert (report["threshold"] == drift.Policy().default.psi).all()
    assert report["alpha_corrected"].to_numpy() == pytest.approx(np.full(3, drift.Policy().default.alpha / 3))


def test_bonferroni_flags_a_moderate_p_value_alone_but_not_among_many_columns():
    # 20/20 against 8/32: a large PSI, and a chi-squared p-value between alpha/10 and alpha
    ref = pd.DataFrame({"hot": ["a"] * 20 + ["b"] * 20})
    cur = pd.DataFrame({"hot": ["a"] * 8 + ["b"] * 32})
    _, p_value, _, _ = stats.chi2_contingency(np.array([[20, 8], [20, 32]]), correction=False)
    policy = drift.Policy(multivariate=False)
    alpha = policy.default.alpha
    assert alpha / 10 < p_value < alpha  # the premise of the test, computed

    alone = drift.compare(build(ref, [], ["hot"]), cur, policy).set_index("feature")
    assert alone.loc["hot", "p_value"] == pytest.approx(p_value, rel=1e-9)
    assert alone.loc["hot", "effect"] >= alone.loc["hot", "threshold"]
    assert alone.loc["hot", "alpha_corrected"] == pytest.approx(alpha)
    assert alone.loc["hot", "drifted"]

    quiet = [f"q{i}" for i in range(9)]
    for col in quiet:
        ref[col] = np.arange(40.0)
        cur[col] = np.arange(40.0)
    among_ten = drift.compare(build(ref, quiet, ["hot"]), cur, policy).set_index("feature")
    assert len(among_ten) == 10
    assert among_ten.loc["hot", "p_value"] == pytest.approx(p_value, rel=1e-9)
    assert among_ten.loc["hot", "alpha_corrected"] == pytest.approx(alpha / 10)
    assert not among_ten["drifted"].any()


def test_a_tiny_shift_on_a_large_sample_is_significant_but_not_drift():
    rng = np.random.default_rng(11)
    n = 400_000
    profiles = build(pd.DataFrame({"x": rng.normal(0, 1, n)}), ["x"], [])
    current = pd.DataFrame({"x": rng.normal(0.03, 1, n)})
    row = drift.compare(profiles, current, drift.Policy()).iloc[0]
    assert row["p_value"] < row["alpha_corrected"]  # significant after the correction
    assert row["effect"] < row["threshold"]  # but below the effect-size floor
    assert not row["drifted"]
    # the floor is what holds it back: without it, the same batch is flagged
    no_floor = drift.Policy(default=drift.Thresholds(psi=0.0))
    assert drift.compare(profiles, current, no_floor).iloc[0]["drifted"]


def test_a_per_feature_override_changes_that_feature_only():
    rng = np.random.default_rng(12)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 3000), "y": rng.normal(0, 1, 3000), "z": rng.normal(0, 1, 3000)})
    cur = pd.DataFrame({"x": rng.normal(1, 1, 2000), "y": rng.normal(1, 1, 2000), "z": rng.normal(0, 1, 2000)})
    profiles = build(ref, ["x", "y", "z"], [])
    base = drift.compare(profiles, cur, drift.Policy()).set_index("feature")
    assert base.loc["x", "drifted"] and base.loc["y", "drifted"] and not base.loc["z", "drifted"]

    # raise x's effect threshold just above its measured PSI: x is no longer drifted, the rest is untouched
    lenient = drift.Policy(overrides={"x": drift.Thresholds(psi=base.loc["x", "psi"] + 0.01)})
    relaxed = drift.compare(profiles, cur, lenient).set_index("feature")
    assert not relaxed.loc["x", "drifted"]
    assert relaxed.loc["x", "threshold"] == pytest.approx(base.loc["x", "psi"] + 0.01)
    pd.testing.assert_frame_equal(relaxed.drop(index="x"), base.drop(index="x"))

    # lower z's threshold to zero and its alpha to one: a steady column is flagged only by its override
    strict = drift.Policy(overrides={"z": drift.Thresholds(alpha=1.0, psi=0.0)})
    tightened = drift.compare(profiles, cur, strict).set_index("feature")
    assert tightened.loc["z", "drifted"] == (tightened.loc["z", "p_value"] < 1.0 / 3)
    pd.testing.assert_frame_equal(tightened.drop(index="z"), base.drop(index="z"))

    # skip x: its row is gone and the family shrinks to two tests; y and z keep their verdicts
    skipped = drift.compare(profiles, cur, drift.Policy(overrides={"x": drift.Thresholds(skip=True)}))
    skipped = skipped.set_index("feature")
    assert set(skipped.index) == {"y", "z"}
    assert skipped["alpha_corrected"].to_numpy() == pytest.approx(np.full(2, drift.Policy().default.alpha / 2))
    assert skipped.loc["y", "drifted"] and not skipped.loc["z", "drifted"]
    for col in ("statistic", "p_value", "psi", "wasserstein", "js"):
        assert skipped.loc["y", col] == base.loc["y", col]


def test_band_k_raises_the_threshold_to_the_reference_band():
    rng = np.random.default_rng(13)
    raw = rng.normal(0, 1, 5000)
    profile = drift.numeric_profile("x", raw)
    # the band: PSI of each of five chunks (in reference order) against the whole reference
    chunk_psis = [psi_by_hand(profile.shares, bin_shares(profile.edges, chunk)) for chunk in np.array_split(raw, 5)]
    assert profile.band_mean == pytest.approx(np.mean(chunk_psis), rel=1e-9)
    assert profile.band_sd == pytest.approx(np.std(chunk_psis, ddof=1), rel=1e-9)

    cur = pd.DataFrame({"x": rng.normal(0.3, 1, 3000)})
    plain = drift.compare([profile], cur, drift.Policy(default=drift.Thresholds(psi=0.0))).iloc[0]
    assert plain["threshold"] == 0.0 and plain["drifted"]
    # k chosen from the data so that the band sits just above the batch's effect
    k = (plain["effect"] - profile.band_mean) / profile.band_sd + 1.0
    banded = drift.compare([profile], cur, drift.Policy(default=drift.Thresholds(psi=0.0, band_k=k))).iloc[0]
    assert banded["threshold"] == pytest.approx(profile.band_mean + k * profile.band_sd, rel=1e-12)
    assert banded["effect"] == plain["effect"] and banded["p_value"] == plain["p_value"]
    assert not banded["drifted"]
    # the band only ever raises the threshold
    high = drift.compare([profile], cur, drift.Policy(default=drift.Thresholds(psi=5.0, band_k=k))).iloc[0]
    assert high["threshold"] == 5.0

    cats = pd.Series(rng.choice(list("abcde"), 5000))
    cat_profile = drift.categorical_profile("c", cats)
    cat_chunks = [
        psi_by_hand(
            cat_profile.counts / cat_profile.counts.sum(),
            pd.Series(chunk).value_counts(normalize=True).reindex(cat_profile.categories, fill_value=0).to_numpy(),
        )
        for chunk in np.array_split(cats.to_numpy(), 5)
    ]
    assert cat_profile.band_mean == pytest.approx(np.mean(cat_chunks), rel=1e-9)
    assert cat_profile.band_sd == pytest.approx(np.std(cat_chunks, ddof=1), rel=1e-9)


def test_per_slice_rows_and_a_shift_confined_to_one_slice():
    rng = np.random.default_rng(14)
    n = 6000
    ref = frame_of(rng, n).assign(region=rng.choice(["north", "south", "west"], n))
    cur = frame_of(rng, n).assign(region=rng.choice(["north", "south", "west"], n))
    in_south = cur["region"] == "south"
    cur.loc[in_south, "steady"] += 1.5
    profiles = build(ref, ["steady", "moved"], ["cat"], slice_column="region")
    report = drift.compare(profiles, cur, drift.Policy(), slice_column="region")

    assert set(zip(report["slice"], report["feature"], strict=True)) == {
        (s, f) for s in (drift.ALL, "north", "south", "west") for f in ("steady", "moved", "cat")
    }
    per_slice = report[report["slice"] != drift.ALL]
    assert per_slice["alpha_corrected"].to_numpy() == pytest.approx(np.full(9, drift.Policy().default.alpha / 9))
    hits = per_slice[per_slice["drifted"]]
    flagged = set(zip(hits["slice"], hits["feature"], strict=True))
    assert flagged == {("south", "steady")}

    # a slice's row is the statistic of that slice's rows against that slice's reference
    south = report.set_index(["slice", "feature"]).loc[("south", "steady")]
    expected = stats.ks_2samp(ref.loc[ref["region"] == "south", "steady"], cur.loc[in_south, "steady"], method="asymp")
    assert south["rows"] == in_south.sum()
    assert south["statistic"] == pytest.approx(expected.statistic, abs=1e-9)
    assert south["p_value"] == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)


def test_low_confidence_row():
    rng = np.random.default_rng(15)
    n = 4000
    ref = pd.DataFrame({"x": rng.normal(0, 1, n), "score": rng.uniform(0, 1, n)})
    profiles = build(ref, ["x"], [])
    policy = drift.Policy()
    margin = policy.low_confidence_margin

    def share(scores: np.ndarray) -> float:
        return float(np.mean(np.abs(scores - 0.5) <= margin))

    def check(scores: np.ndarray) -> pd.Series:
        cur = pd.DataFrame({"x": rng.normal(0, 1, len(scores)), "score": scores})
        report = drift.compare(profiles, cur, policy, score_column="score").set_index("feature")
        assert set(report.index) == {"x", drift.PREDICTION, drift.LOW_CONFIDENCE}
        assert report.loc[drift.PREDICTION, "kind"] == "prediction"
        row = report.loc[drift.LOW_CONFIDENCE]
        # the pooled two-proportion z-test is the chi-squared test of the 2x2 table
        ref_in = int(np.sum(np.abs(ref["score"] - 0.5) <= margin))
        cur_in = int(np.sum(np.abs(scores - 0.5) <= margin))
        table = np.array([[ref_in, n - ref_in], [cur_in, len(scores) - cur_in]])
        assert row["statistic"] == pytest.approx(share(scores), abs=1e-12)
        assert row["effect"] == pytest.approx(share(scores) - share(ref["score"].to_numpy()), abs=1e-12)
        assert row["threshold"] == policy.low_confidence_increase
        assert row["p_value"] == pytest.approx(stats.chi2_contingency(table, correction=False)[1], rel=1e-6, abs=1e-300)
        assert row["alpha_corrected"] == pytest.approx(policy.default.alpha / 3)
        return row

    assert not check(rng.uniform(0, 1, 3000))["drifted"]
    # the model hesitates: scores pile up around 0.5
    hesitant = np.clip(np.r_[rng.uniform(0, 1, 1500), rng.normal(0.5, 0.05, 1500)], 0, 1)
    assert check(hesitant)["drifted"]


def test_domain_classifier_tells_apart_only_shifted_tables():
    rng = np.random.default_rng(16)
    n = 1500

    def table(shift: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "a": rng.normal(shift, 1, n),
                "b": rng.normal(-shift, 1, n),
                "c": rng.normal(0, 1, n),
                "k": rng.choice(list("pqr"), n),
            }
        )

    ref = table(0.0)
    same = drift.domain_classifier(ref, table(0.0), ["a", "b", "c"], ["k"])
    assert 0.44 < same["statistic"] < 0.56
    assert same["p_value"] > 0.01
    moved = drift.domain_classifier(ref, table(0.8), ["a", "b", "c"], ["k"])
    assert moved["statistic"] > 0.75
    assert moved["p_value"] < 1e-6

    # through compare: the whole-table row, flagged by its AUC threshold
    policy = drift.Policy()
    report = drift.compare(
        build(ref, ["a", "b", "c"], ["k"]),
        table(0.8),
        policy,
        reference_sample=ref,
        numeric=["a", "b", "c"],
        categorical=["k"],
    ).set_index("feature")
    row = report.loc[drift.TABLE]
    assert row["kind"] == "multivariate" and row["slice"] == drift.ALL
    assert row["threshold"] == policy.domain_auc
    assert row["alpha_corrected"] == pytest.approx(policy.default.alpha / 5)  # a, b, c, k and the table
    assert row["drifted"]
