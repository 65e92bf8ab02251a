"""Choosing a window by time-ordered validation, and pricing a retrain by the accuracy a refit adds."""

import math

import numpy as np
import pandas as pd
import pytest

from cl_assets.lib import composition, refit, windows
from cl_assets.lib.streams import Stream

PARAMS = {"n_estimators": 60, "max_depth": 3, "learning_rate": 0.2}


def history(stream: Stream, batches: range) -> pd.DataFrame:
    """Labeled rows of `batches`, recency 1 = the newest of them, as labeled_features gives them."""
    newest = max(batches)
    parts = [stream.batch(b).assign(batch_id=f"b{b:02d}", recency=newest - b + 1) for b in batches]
    frame = pd.concat(parts, ignore_index=True)
    return frame.rename(columns={"y": "label"}).assign(slice=lambda f: f["segment"])


def target(stream: Stream, b: int) -> pd.DataFrame:
    return history(stream, range(b, b + 1)).drop(columns="recency")


def fitted(stream, batches, b):
    return windows.validate(history(stream, batches), target(stream, b), stream.spec(), PARAMS, n_jobs=1)


def test_after_an_abrupt_concept_change_the_shortest_window_wins():
    stream = Stream("abrupt_concept", batches=20, rows=600, change=8)
    chosen = windows.choose(fitted(stream, range(0, 10), 10))  # batches 8, 9 hold the new concept
    assert chosen.window.name == "last 2"


def test_on_a_stationary_stream_a_long_window_wins():
    stream = Stream("stationary", batches=20, rows=300, change=1)
    chosen = windows.choose(fitted(stream, range(0, 12), 12))
    assert chosen.window.batches is None or chosen.window.batches >= 8, chosen.window


def test_windows_that_read_the_same_rows_are_fitted_once():
    stream = Stream("stationary", batches=10, rows=200, change=1)
    scores = fitted(stream, range(0, 3), 3)  # 3 batches: last 4, 8, 16 and all read the same rows
    names = [s.window.name for s in scores]
    assert names == [windows.NEWEST, "last 2", "last 4", "all, half-life 4"]
    assert [len(s.batches) for s in scores] == [1, 2, 3, 3] and scores[2].rows == 600


def test_ties_go_to_the_window_with_fewer_rows():
    stream = Stream("stationary", batches=10, rows=200, change=1)
    a, b = fitted(stream, range(0, 4), 4)[:2]
    same = [
        windows.Score(a.window, a.batches, 900, a.accuracy, 0.5, a.correct, a.scores),
        windows.Score(b.window, b.batches, 300, b.accuracy, 0.5 + windows.TIE / 2, b.correct, b.scores),
    ]
    assert windows.choose(same).rows == 300
    apart = [same[0], windows.Score(b.window, b.batches, 300, b.accuracy, 0.5 + 2 * windows.TIE, b.correct, b.scores)]
    assert windows.choose(apart).rows == 900
    with pytest.raises(ValueError, match="no candidate window"):
        windows.choose([])


def test_a_window_becomes_a_recipe_with_its_holdout_inside():
    base = composition.Recipe()
    assert windows.Window("last 2", 2).recipe(base, 10).window_batches == 2
    assert windows.Window("last 2", 2).recipe(base, 10).holdout_batches == 2
    assert windows.Window("last 16", 16).recipe(base, 5).window_batches == 5
    assert windows.Window("all", None).recipe(base, 5).window == "all"
    weighted = windows.Window("all, half-life 4", None, 4.0).recipe(base, 7)
    assert (weighted.window, weighted.window_batches, weighted.half_life_batches) == ("sliding", 7, 4.0)
    weighted.validate()


def test_the_newest_batch_is_split_off_and_the_history_renumbered():
    frame = history(Stream("stationary", batches=10, rows=20, change=1), range(0, 4))
    older, newest = windows.split_newest(frame)
    assert set(newest["batch_id"]) == {"b03"} and sorted(older["recency"].unique()) == [1, 2, 3]


def test_the_gain_is_the_paired_accuracy_difference_with_its_standard_error():
    stream = Stream("abrupt_concept", batches=20, rows=600, change=8)
    chosen = windows.choose(fitted(stream, range(0, 10), 10))
    rng = np.random.default_rng(0)
    champion = (rng.random(len(chosen.correct)) < 0.4).astype(float)
    g = refit.gain(chosen, champion)
    diff = chosen.correct - champion
    assert g.gain == pytest.approx(diff.mean()) and g.rows == len(diff)
    assert g.se == pytest.approx(diff.std(ddof=1) / math.sqrt(len(diff)))
    with pytest.raises(ValueError, match="same rows"):
        refit.gain(chosen, champion[:-1])


@pytest.mark.parametrize(
    ("gains", "cost", "pays"),
    [([], 1.0, False), ([0.004, 0.004], 1.0, False), ([0.004, 0.004, 0.004], 1.0, True), ([0.03, -0.025], 1.0, False)],
)
def test_a_retrain_pays_once_the_summed_gains_reach_its_cost(gains, cost, pays):
    total = refit.regret(gains, [0.0] * len(gains), cost, z=1.0)  # certain gains: the sum is the bound
    assert total.pays is pays
    assert total.accumulated_points == pytest.approx(100 * sum(gains))
    assert total.as_dict()["net_points"] == pytest.approx(100 * sum(gains) - cost, abs=1e-4)


def test_a_measured_loss_must_clear_the_cost_by_z_standard_errors_of_its_sum():
    gains, ses = [0.01, 0.01], [0.006, 0.008]  # 2 points, se of the sum 1 point
    assert refit.regret(gains, ses, 1.0, z=0).pays
    assert refit.regret(gains, ses, 1.0, z=1.0).pays  # 2 - 1 = 1: at the cost
    bounded = refit.regret(gains, ses, 1.0, z=1.5)
    assert not bounded.pays and bounded.se_points == pytest.approx(1.0)
    assert bounded.lower_points == pytest.approx(0.5) and bounded.as_dict()["net_points"] == pytest.approx(-0.5)
    assert not refit.regret([0.5], [math.inf], 1.0, z=1.0).pays  # one row tells nothing
    with pytest.raises(ValueError, match="one standard error per gain"):
        refit.regret(gains, ses[:1], 1.0, z=1.0)


def _noise(rng, labels, skill=0.75):
    """Scores as good as `skill` accuracy and otherwise random: none better than another."""
    right = rng.random(len(labels)) < skill
    p = np.where(right == labels.astype(bool), 0.5 + 0.4 * rng.random(len(labels)), 0.5 - 0.4 * rng.random(len(labels)))
    return np.clip(p, 0.01, 0.99)


def test_the_priced_gain_has_no_winners_curse():
    """Seven windows no better than the champion: the gain read off the rows that chose the best is
    biased upwards, the cross-selected one is not."""
    rng = np.random.default_rng(0)
    naive, priced = [], []
    for _ in range(300):
        labels = (rng.random(400) < 0.5).astype(int)
        champion = ((_noise(rng, labels) >= 0.5) == labels).astype(float)
        scores = []
        for k in range(7):
            p = _noise(rng, labels)
            correct = ((p >= 0.5) == labels).astype(float)
            loss = float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
            scores.append(windows.Score(windows.CANDIDATES[k], ["b"], 100 * (k + 1), correct.mean(), loss, correct, p))
        naive.append(refit.gain(windows.choose(scores), champion).gain)
        g, halves = refit.priced(scores, champion, labels, seed=len(priced))
        assert len(halves) == 2 and g.rows == 400 and g.se > 0
        priced.append(g.gain)
    se = np.std(priced, ddof=1) / math.sqrt(len(priced))
    assert abs(np.mean(priced)) < 3 * se  # unbiased
    assert np.mean(naive) > np.mean(priced) + 3 * se  # the curse it removes


def test_the_priced_gain_still_sees_a_real_one():
    stream = Stream("abrupt_concept", batches=20, rows=600, change=8)
    scores = fitted(stream, range(0, 10), 10)
    labels = target(stream, 10)["label"].astype(int).to_numpy()
    old = fitted(stream, range(0, 8), 10)  # a champion of the old concept: every window before the change
    champion = max((s for s in old if s.window.half_life is None), key=lambda s: s.rows).correct
    g, halves = refit.priced(scores, champion, labels)
    assert g.gain > 3 * g.se and set(halves) <= {s.window.name for s in scores}


def test_right_at_an_abrupt_change_the_batch_itself_wins():
    stream = Stream("abrupt_concept", batches=20, rows=600, change=8)
    chosen = windows.choose(fitted(stream, range(0, 8), 8))  # only batch 8 holds the new concept
    assert chosen.window.name == windows.NEWEST and chosen.batches == ["b08"]
    assert windows.Window(windows.NEWEST, 0).recipe(composition.Recipe(), 9).window_batches == 1
