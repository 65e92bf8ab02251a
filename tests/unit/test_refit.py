"""The refit comparison: what a retrain on the newest labels would change on a new batch."""

import functools

import numpy as np
import pandas as pd
import pytest

from cl_assets.lib import modeling, refit, scenario
from cl_assets.lib.scenario import STORY


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    # XGBoost's two OpenMP threads spin when every core is busy elsewhere (the test run is parallel)
    monkeypatch.setattr(modeling, "build", functools.partial(modeling.build, n_jobs=1))


def labelled(indices) -> pd.DataFrame:
    frame = pd.concat([scenario.generate_batch(b, 800) for b in indices], ignore_index=True)
    return frame.rename(columns={"churned": "label"}).assign(slice=lambda f: f["region"])


def test_flips_and_change_are_counted_per_slice_and_overall():
    champion = np.array([0.9, 0.2, 0.6, 0.4, 0.1])
    other = np.array([0.8, 0.7, 0.4, 0.45, 0.1])
    frame = refit.compare(champion, other, pd.Series(["a", "a", "b", "b", "b"])).set_index("slice")
    assert frame.loc[modeling.OVERALL, "disagreement"] == pytest.approx(2 / 5)
    assert frame.loc["a", "disagreement"] == pytest.approx(1 / 2)
    assert frame.loc["b", "disagreement"] == pytest.approx(1 / 3)
    assert frame.loc[modeling.OVERALL, "mean_abs_change"] == pytest.approx((0.1 + 0.5 + 0.2 + 0.05 + 0) / 5)
    assert frame.loc["a", "refit_positive_rate"] == pytest.approx(1.0)
    assert frame.loc["b", "champion_positive_rate"] == pytest.approx(1 / 3)
    assert frame.loc[modeling.OVERALL, "rows"] == 5
    # a flip gains |2p - 1| of the newer score p: 0.2 -> 0.7 gains 0.4, 0.6 -> 0.4 gains 0.2
    assert frame.loc[modeling.OVERALL, "expected_gain"] == pytest.approx((0.4 + 0.2) / 5)
    assert frame.loc["a", "expected_gain"] == pytest.approx(0.4 / 2)
    assert frame.loc["b", "expected_gain"] == pytest.approx(0.2 / 3)


def test_the_expected_gain_is_the_accuracy_a_calibrated_newer_fit_adds():
    """Labels drawn from the newer fit's scores: the realized accuracy gain matches the estimate."""
    rng = np.random.default_rng(0)
    after = rng.uniform(0, 1, 200_000)
    before = np.clip(after + rng.normal(0, 0.3, after.size), 0, 1)
    labels = rng.uniform(0, 1, after.size) < after
    estimate = refit.compare(before, after, pd.Series(["all"] * after.size)).iloc[0]["expected_gain"]
    realized = ((after >= 0.5) == labels).mean() - ((before >= 0.5) == labels).mean()
    assert estimate > 0.02
    assert estimate == pytest.approx(realized, abs=0.004)


def test_newer_labels_after_concept_drift_flip_many_decisions_and_more_of_the_same_few():
    spec, params, c = scenario.spec(), modeling.DEFAULT_PARAMS, STORY.concept_drift
    learned, new_batch = labelled(range(c - 4, c)), labelled([c + 2])
    same = refit.refit_and_compare(learned, labelled(range(c - 5, c - 1)), new_batch, spec, params).overall
    drifted = refit.refit_and_compare(learned, labelled([c, c + 1]), new_batch, spec, params).overall
    assert drifted["disagreement"] >= same["disagreement"] + 0.1, (drifted, same)
    assert drifted["mean_abs_change"] > same["mean_abs_change"]
    assert drifted["expected_gain"] > same["expected_gain"] + 0.02, (drifted, same)
    assert same["disagreement"] < 0.1, same
    identical = refit.refit_and_compare(learned, learned, new_batch, spec, params).overall
    assert identical["disagreement"] == identical["expected_gain"] == identical["mean_abs_change"] == 0


def test_a_refit_needs_rows_of_both_labels():
    spec = scenario.spec()
    rows = labelled([0])
    with pytest.raises(ValueError, match="no labeled rows of the newest batches"):
        refit.refit_and_compare(rows, rows.iloc[:0], rows, spec, modeling.DEFAULT_PARAMS)
    with pytest.raises(ValueError, match="champion's training batches hold one class only"):
        refit.refit_and_compare(rows.assign(label=1), rows, rows, spec, modeling.DEFAULT_PARAMS)


@pytest.mark.parametrize(
    ("learned", "kept"),
    [
        (set(), ["b3", "b4", "b5", "b6"]),  # no champion batches among them: the newest window
        ({"b1", "b2"}, ["b3", "b4", "b5", "b6"]),  # an older champion: the window as configured
        ({"b5"}, ["b5", "b6"]),  # restarted at b5: nothing older than what it learned
        ({"b4", "b5", "b6"}, ["b4", "b5", "b6"]),
    ],
)
def test_the_newer_fit_reaches_no_further_back_than_the_champion(learned, kept):
    labeled = pd.DataFrame({"batch_id": [f"b{i}" for i in range(1, 7)], "recency": range(6, 0, -1)})
    assert refit.newest_rows(labeled, 4, learned)["batch_id"].tolist() == kept
    assert refit.newest_rows(labeled.iloc[:0], 4, learned).empty
