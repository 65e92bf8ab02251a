"""The built-in stream: deterministic per (seed, batch), and the scripted story of drift."""

import functools

import numpy as np
import pandas as pd
import pytest

from cl_assets.lib import modeling, scenario
from cl_assets.lib.scenario import STORY


def batches(indices, rows: int = scenario.DEFAULT_ROWS) -> pd.DataFrame:
    return pd.concat([scenario.generate_batch(b, rows) for b in indices], ignore_index=True)


@pytest.mark.parametrize("batch", [0, STORY.new_category, STORY.concept_drift + 3])
def test_same_seed_and_batch_give_identical_frames(batch):
    pd.testing.assert_frame_equal(
        scenario.generate_batch(batch, 300, seed=11), scenario.generate_batch(batch, 300, seed=11)
    )


def test_a_different_seed_or_batch_gives_different_rows():
    base = scenario.generate_batch(2, 300, seed=7)
    for other in (scenario.generate_batch(2, 300, seed=8), scenario.generate_batch(3, 300, seed=7)):
        assert not np.array_equal(base["monthly_spend"].to_numpy(), other["monthly_spend"].to_numpy())
        assert not np.array_equal(base["churned"].to_numpy(), other["churned"].to_numpy())


def test_a_batch_does_not_depend_on_the_length_of_the_stream():
    short = [scenario.generate_batch(b, 200) for b in range(3)]
    long = [scenario.generate_batch(b, 200) for b in range(8)]
    for b in range(3):
        pd.testing.assert_frame_equal(short[b], long[b])
    # generating other batches first (or not at all) leaves a batch unchanged
    pd.testing.assert_frame_equal(scenario.generate_batch(5, 200), long[5])


def test_batch_columns_ids_and_times():
    spec = scenario.spec()
    frame = scenario.generate_batch(4, 500)
    assert set(frame.columns) == {*spec.raw_columns, spec.target}
    assert frame["customer_id"].is_unique and frame["customer_id"].min() == 4 * 100_000
    assert set(frame["churned"].unique()) == {0, 1}
    day = pd.Timestamp(scenario.batch_time(4).date())
    assert (frame["event_time_utc"] >= day).all() and (frame["event_time_utc"] < day + pd.Timedelta(days=1)).all()
    assert frame["event_time_utc"].is_monotonic_increasing


def test_covariate_shift_raises_monthly_spend():
    before = batches(range(STORY.covariate_shift - 3, STORY.covariate_shift))
    after = batches(range(STORY.covariate_shift, STORY.covariate_shift + 3))
    ratio = after["monthly_spend"].mean() / before["monthly_spend"].mean()
    assert 1.15 < ratio < 1.35  # the story says +25%
    assert after["sessions_last_week"].mean() < before["sessions_last_week"].mean() - 0.5
    assert after["age"].mean() > before["age"].mean() + 3


def test_new_category_app_appears_in_a_quarter_of_rows():
    before = batches(range(STORY.new_category))
    after = batches(range(STORY.new_category, STORY.new_category + 3))
    assert "app" not in set(before["channel"])
    share = (after["channel"] == "app").mean()
    assert 0.22 < share < 0.28
    assert set(after["channel"]) == {"web", "store", "phone", "app"}


def test_label_prior_change_raises_the_positive_rate():
    before = batches(range(STORY.label_prior - 3, STORY.label_prior))["churned"].mean()
    after = batches(range(STORY.label_prior, STORY.label_prior + 3))["churned"].mean()
    assert after > before + 0.15
    assert 0.65 < after < 0.85


def labelled(indices) -> pd.DataFrame:
    return batches(indices).rename(columns={"churned": "label"})


def accuracy(model, frame: pd.DataFrame) -> float:
    spec = scenario.spec()
    return modeling.metrics(frame["label"].to_numpy(), modeling.scores(model, frame, spec))["accuracy"]


def test_concept_drift_costs_a_stale_model_accuracy(monkeypatch):
    # one thread: XGBoost's two OpenMP threads spin for minutes when every core is busy elsewhere
    monkeypatch.setattr(modeling, "build", functools.partial(modeling.build, n_jobs=1))
    spec, params, c = scenario.spec(), modeling.DEFAULT_PARAMS, STORY.concept_drift
    stale = modeling.fit(labelled(range(c - 5, c)), spec, params)
    fresh = modeling.fit(labelled([c, c + 1]), spec, params)
    stale_after = accuracy(stale, labelled([c, c + 1, c + 2]))
    fresh_after = accuracy(fresh, labelled([c + 2]))
    stale_before = accuracy(stale, labelled([c - 1]))
    assert stale_after <= fresh_after - 0.05, (stale_after, fresh_after)
    assert stale_after <= stale_before - 0.05, (stale_after, stale_before)
