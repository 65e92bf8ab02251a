"""The reference profile survives a round trip through a real DuckDB file unchanged."""

import numpy as np
import pandas as pd
import pytest

from cl_assets.lib import drift, reference, warehouse

BASELINE = {
    "model_version": 1,
    "source": "champion",
    "reason": "",
    "accepted_by": None,
    "batches": [],
    "rows": 1,
    "dagster_run_id": "r",
}


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 3000
    return pd.DataFrame(
        {
            "x": rng.normal(0, 1, n),
            "y": np.where(rng.random(n) < 0.05, np.nan, rng.exponential(2.0, n)),
            "c": rng.choice(["a", "b", "c", None], n, p=[0.5, 0.3, 0.15, 0.05]),
            "score": rng.random(n),
            "slice": rng.choice(["s1", "s2"], n),
        }
    )


def test_profiles_round_trip_through_duckdb(tmp_path, frame):
    built = reference.build(frame, ["x", "y"], ["c"], "score", "slice")
    baseline = {
        "model_version": 3,
        "source": "champion",
        "reason": "test",
        "accepted_by": None,
        "batches": ["b1"],
        "rows": len(frame),
        "dagster_run_id": "r",
    }
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        profile_id = (reference.current_id(con) or 0) + 1
        reference.store(con, profile_id, baseline, built, reference.sample_rows(frame[["x", "y", "c"]]))
    with warehouse.connect(tmp_path / "w.duckdb", read_only=True) as con:
        loaded, sample = reference.load(con, profile_id)
        assert reference.current_id(con) == profile_id == 1
        assert reference.baseline(con, profile_id)["model_version"] == 3
    key = lambda p: (p.slice, p.feature)  # noqa: E731
    assert sorted(map(key, loaded)) == sorted(map(key, built))
    by_key = {key(p): p for p in loaded}
    for p in built:
        q = by_key[key(p)]
        assert (q.kind, q.rows) == (p.kind, p.rows)
        if p.kind == "categorical":
            assert q.categories == p.categories
            assert np.array_equal(q.counts, p.counts)
        else:
            assert np.array_equal(q.values, p.values)
            assert np.allclose(q.edges, p.edges) and np.allclose(q.shares, p.shares)
            assert q.std == pytest.approx(p.std)
        assert q.band_mean == pytest.approx(p.band_mean)
    assert len(sample) == min(reference.SAMPLE_ROWS, len(frame))
    # statistics from the loaded profile equal those from the built one
    current = frame.assign(x=frame["x"] + 0.3)
    policy = drift.Policy(multivariate=False)
    a = drift.compare(built, current, policy, slice_column="slice", score_column="score")
    b = drift.compare(loaded, current, policy, slice_column="slice", score_column="score")
    cols = ["statistic", "p_value", "psi", "effect"]
    merged = a.merge(b, on=["slice", "feature"], suffixes=("_a", "_b"))
    assert len(merged) == len(a) == len(b)
    for col in cols:
        assert np.allclose(merged[f"{col}_a"], merged[f"{col}_b"], equal_nan=True)


def test_a_second_profile_does_not_touch_the_first(tmp_path, frame):
    built = reference.build(frame, ["x"], [], "score", None)
    baseline = BASELINE
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        reference.store(con, 1, baseline, built, frame[["x"]].head(10))
        first = warehouse.fetch_df(con, "select * from reference_values where profile_id = 1")
        reference.store(
            con,
            2,
            {**baseline, "model_version": 2},
            reference.build(frame.head(100), ["x"], [], "score", None),
            frame[["x"]].head(5),
        )
        again = warehouse.fetch_df(con, "select * from reference_values where profile_id = 1")
        assert reference.current_id(con) == 2
    pd.testing.assert_frame_equal(first, again)


def test_a_loaded_profile_is_remembered_but_never_across_databases(tmp_path, frame):
    built = reference.build(frame, ["x"], [], "score", None)
    baseline = BASELINE
    for name, shift in (("a.duckdb", 0.0), ("b.duckdb", 5.0)):
        profiles = reference.build(frame.assign(x=frame["x"] + shift), ["x"], [], "score", None) if shift else built
        with warehouse.connect(tmp_path / name) as con:
            reference.store(con, 1, baseline, profiles, frame[["x"]].head(10))
    with warehouse.connect(tmp_path / "a.duckdb", read_only=True) as con:
        first = reference.load_once(con, reference.baseline(con, 1))
        assert reference.load_once(con, reference.baseline(con, 1)) is first
    with warehouse.connect(tmp_path / "b.duckdb", read_only=True) as con:
        other = reference.load_once(con, reference.baseline(con, 1))
    assert other is not first
    x_a = next(p for p in first[0] if p.feature == "x")
    x_b = next(p for p in other[0] if p.feature == "x")
    assert x_b.values.min() > x_a.values.min() + 4
