"""The decay detector: the baselines it compares with, its sample-size awareness, its threshold,
and on seeded simulated streams, how fast it flags a drop and how rarely a stationary stream.

Expected baselines and statistics are computed here by hand from the inputs; the simulated
figures are compared with the aims (flag a 3-SE drop within two batches, at most one false
alarm per 50 batches), not with numbers from a previous run.
"""

import math

import numpy as np
import pytest

from cl_assets.lib import decay

ROWS = 1000
ACCURACY = 0.8
HOLDOUT_ROWS = 400  # 20% of two batches' rows, as the benchmark


def stream(rng: np.random.Generator, batches: int, change: int | None = None, drop_se: float = 0.0):
    """Batches of ROWS Bernoulli rows at ACCURACY, lowered by `drop_se` standard errors of one
    batch from index `change` on, and a holdout of HOLDOUT_ROWS rows, as detect's inputs."""
    level = np.full(batches, ACCURACY)
    if change is not None:
        level[change:] -= drop_se * math.sqrt(ACCURACY * (1 - ACCURACY) / ROWS)
    correct = rng.binomial(ROWS, level)
    holdout = {"rows": HOLDOUT_ROWS, "accuracy": rng.binomial(HOLDOUT_ROWS, ACCURACY) / HOLDOUT_ROWS}
    return [{"batch_id": f"b{i:02d}", "rows": ROWS, "accuracy": c / ROWS} for i, c in enumerate(correct)], holdout


def pooled(batches: list[dict]) -> tuple[int, float]:
    rows = sum(b["rows"] for b in batches)
    return rows, sum(b["rows"] * b["accuracy"] for b in batches) / rows


def by_hand(accuracy: float, rows: int, base_accuracy: float, base_rows: int) -> float:
    p = min(max(base_accuracy, 0.01), 0.99)
    return (base_accuracy - accuracy) / math.sqrt(p * (1 - p) * (1 / rows + 1 / base_rows))


def test_a_sustained_three_se_drop_is_flagged_within_two_batches():
    rng = np.random.default_rng(20240611)
    change, flagged = 10, 0
    for _ in range(300):
        batches, holdout = stream(rng, change + 2, change=change, drop_se=3.0)
        steps = decay.detect(batches, holdout)
        flagged += any(step.alarm for step in steps[change:])
    assert flagged / 300 >= 0.90


def test_stationary_streams_raise_at_most_one_alarm_per_fifty_batches():
    rng = np.random.default_rng(7)
    settings = decay.Settings()
    reps, batches = 1000, 50
    correct = rng.binomial(ROWS, ACCURACY, size=(reps, batches)).astype(float)
    holdout_correct = rng.binomial(HOLDOUT_ROWS, ACCURACY, size=reps).astype(float)
    judged = decay.standardize(
        np.full(correct.shape, float(ROWS)), correct, HOLDOUT_ROWS, holdout_correct, settings.baseline_batches
    )
    _, alarm = decay.cusum(judged["z"], judged["judged"], settings.k, settings.h)
    onsets = decay.onsets(alarm).sum(axis=1)
    assert onsets.mean() <= 1.0
    assert onsets.mean() > 0  # it is a test, not a detector that never speaks


def test_detect_agrees_with_the_array_path():
    rng = np.random.default_rng(3)
    settings = decay.Settings()
    for _ in range(20):
        batches, holdout = stream(rng, 25, change=12, drop_se=2.0)
        steps = decay.detect(batches, holdout, settings)
        judged = decay.standardize(
            np.array([b["rows"] for b in batches], dtype=float),
            np.array([b["rows"] * b["accuracy"] for b in batches]),
            holdout["rows"],
            holdout["rows"] * holdout["accuracy"],
            settings.baseline_batches,
        )
        statistic, alarm = decay.cusum(judged["z"], judged["judged"], settings.k, settings.h)
        assert [s.statistic for s in steps] == pytest.approx(list(statistic), abs=1e-12)
        assert [s.alarm for s in steps] == list(alarm)


def test_the_baseline_is_the_holdout_then_the_first_realized_batches_before_the_batch():
    settings = decay.Settings(baseline_batches=3)
    accuracies = [0.81, 0.79, 0.83, 0.60, 0.78, 0.70]
    rows = [1000, 500, 2000, 800, 1200, 900]
    batches = [
        {"batch_id": f"b{i}", "rows": n, "accuracy": a} for i, (n, a) in enumerate(zip(rows, accuracies, strict=True))
    ]
    holdout = {"rows": 400, "accuracy": 0.85}
    steps = decay.detect(batches, holdout, settings)

    assert [s.baseline for s in steps] == ["holdout"] + ["realized"] * 5
    assert (steps[0].baseline_rows, steps[0].baseline_accuracy) == (400, 0.85)
    for i, step in enumerate(steps[1:], start=1):
        base_rows, base_accuracy = pooled(batches[: min(i, 3)])  # before i, at most the first 3
        assert step.baseline_rows == base_rows
        assert step.baseline_accuracy == pytest.approx(base_accuracy, rel=1e-12)
        assert step.z == pytest.approx(by_hand(accuracies[i], rows[i], base_accuracy, base_rows), rel=1e-9)
    # the judged batch is never in its own baseline: b3's 0.60 does not lower it (b3 is past the
    # first three), and b2's baseline is b0 and b1 only
    assert steps[3].baseline_accuracy == pytest.approx(pooled(batches[:3])[1])
    assert steps[2].baseline_accuracy == pytest.approx(pooled(batches[:2])[1])
    assert steps[4].baseline_accuracy == steps[3].baseline_accuracy == steps[5].baseline_accuracy


def test_the_cusum_recursion_and_no_reset_after_an_alarm():
    settings = decay.Settings()
    batches = [{"batch_id": f"b{i}", "rows": 2000, "accuracy": 0.8} for i in range(10)]
    batches += [{"batch_id": f"d{i}", "rows": 2000, "accuracy": 0.76} for i in range(4)]
    steps = decay.detect(batches, {"rows": 800, "accuracy": 0.8}, settings)
    s = 0.0
    for step in steps:
        s = max(0.0, s + step.z - settings.k)
        assert step.statistic == pytest.approx(s)
        assert step.alarm == (s >= settings.h)
        assert step.threshold == settings.h
    assert not any(step.alarm for step in steps[:10])
    assert all(step.alarm for step in steps[10:])
    drops = [step.statistic for step in steps[10:]]
    assert drops == sorted(drops) and drops[-1] > drops[0]  # keeps accumulating, no reset


def test_a_small_holdout_gives_a_wider_band_than_a_large_one():
    batch = [{"batch_id": "b0", "rows": 1000, "accuracy": 0.75}]
    small = decay.detect(batch, {"rows": 100, "accuracy": 0.8})[0]
    large = decay.detect(batch, {"rows": 100_000, "accuracy": 0.8})[0]
    assert small.baseline == large.baseline == "holdout"
    assert 0 < small.z < large.z
    assert small.z == pytest.approx(by_hand(0.75, 1000, 0.8, 100))


def test_the_band_follows_the_batch_size_where_a_fixed_drop_does_not():
    """A 4-point fall from the realized level on big batches is many standard errors and flagged at
    once; a 5-point gap on one small batch is within the noise and is not."""
    big = [{"batch_id": f"b{i}", "rows": 5000, "accuracy": 0.80} for i in range(10)]
    big.append({"batch_id": "fall", "rows": 5000, "accuracy": 0.76})
    step = decay.detect(big, {"rows": 2000, "accuracy": 0.80})[-1]
    assert step.z > 6 and step.alarm

    small = [{"batch_id": f"b{i}", "rows": 200, "accuracy": 0.80} for i in range(10)]
    small.append({"batch_id": "gap", "rows": 200, "accuracy": 0.75})
    step = decay.detect(small, {"rows": 80, "accuracy": 0.80})[-1]
    assert step.z < 2 and not step.alarm


def test_h_from_arl0_is_increasing_and_solves_siegmund():
    targets = (20, 50, 100, 200, 500, 1000)
    for k in (0.5, 1.0, 1.5):
        hs = [decay.threshold(k, arl0) for arl0 in targets]
        assert all(a < b for a, b in zip(hs, hs[1:], strict=False))
        for arl0, h in zip(targets, hs, strict=True):
            assert decay.siegmund_arl0(k, h) == pytest.approx(arl0, rel=1e-8)
    b = 1.0 + decay.SIEGMUND_CORRECTION  # the formula itself, at k = 1, h = 1
    assert decay.siegmund_arl0(1.0, 1.0) == pytest.approx((math.exp(2 * b) - 2 * b - 1) / 2)
    settings = decay.Settings(shift=3.0, arl0=200)
    assert settings.k == 1.5
    assert settings.h == decay.threshold(1.5, 200.0)
    assert decay.Settings(arl0=400).h > decay.Settings(arl0=100).h


def test_zero_row_batches_are_skipped():
    settings = decay.Settings(baseline_batches=2)
    batches = [
        {"batch_id": "b0", "rows": 1000, "accuracy": 0.8},
        {"batch_id": "empty", "rows": 0, "accuracy": None},
        {"batch_id": "b1", "rows": 1000, "accuracy": 0.7},
        {"batch_id": "empty2", "rows": 0, "accuracy": 0.0},
        {"batch_id": "b2", "rows": 1000, "accuracy": 0.9},
    ]
    steps = decay.detect(batches, {"rows": 400, "accuracy": 0.8}, settings)
    for i in (1, 3):
        assert steps[i].z == 0.0
        assert math.isnan(steps[i].accuracy)
        assert steps[i].statistic == steps[i - 1].statistic
        assert steps[i].alarm == steps[i - 1].alarm
    assert steps[2].statistic > 0  # b1's drop counted, the empty batch did not pull S down
    # the empty batches are not baseline batches: b2's baseline is b0 and b1
    assert steps[4].baseline_rows == 2000
    assert steps[4].baseline_accuracy == pytest.approx(0.75)


def test_a_holdout_without_rows_makes_the_first_batch_the_baseline():
    batches = [
        {"batch_id": "b0", "rows": 1000, "accuracy": 0.9},
        {"batch_id": "b1", "rows": 1000, "accuracy": 0.8},
    ]
    first, second = decay.detect(batches, {"rows": 0, "accuracy": None})
    assert first.baseline == "none" and first.z == 0.0 and first.statistic == 0.0 and not first.alarm
    assert first.baseline_rows == 0 and math.isnan(first.baseline_accuracy)
    assert second.baseline == "realized" and second.baseline_rows == 1000
    assert second.z == pytest.approx(by_hand(0.8, 1000, 0.9, 1000))


def test_as_dict_is_a_table_row():
    batches = [{"batch_id": "b0", "rows": 0, "accuracy": None}, {"batch_id": "b1", "rows": 10, "accuracy": 1.0}]
    rows = [step.as_dict() for step in decay.detect(batches, {"rows": 0, "accuracy": None})]
    assert list(rows[0]) == [
        "batch_id",
        "rows",
        "accuracy",
        "baseline_accuracy",
        "baseline_rows",
        "baseline",
        "z",
        "statistic",
        "threshold",
        "alarm",
    ]
    assert rows[0]["accuracy"] is None and rows[0]["baseline_accuracy"] is None and rows[0]["baseline"] == "none"
    assert rows[1]["baseline"] == "none" and rows[1]["alarm"] is False


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="negative"):
        decay.detect([{"batch_id": "b", "rows": -1, "accuracy": 0.5}], {"rows": 10, "accuracy": 0.5})
    with pytest.raises(ValueError, match="not in"):
        decay.detect([{"batch_id": "b", "rows": 10, "accuracy": 1.5}], {"rows": 10, "accuracy": 0.5})
    with pytest.raises(ValueError, match="arl0"):
        decay.Settings(arl0=1.0)
    with pytest.raises(ValueError, match="shift"):
        decay.Settings(shift=0.0)
    with pytest.raises(ValueError, match="baseline_batches"):
        decay.Settings(baseline_batches=0)
    assert decay.detect([], {"rows": 10, "accuracy": 0.5}) == []
