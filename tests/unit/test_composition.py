"""Training set composition: window, de-duplication, stratified holdout, class balance, determinism.

Every expected count is derived here from the synthetic rows and the recipe, not copied from a run.
"""

import json
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from cl_assets.lib.composition import ORDER, Composition, Recipe, compose, restarted

SLICES = {"web": 120, "app": 74, "kiosk": 6}  # rows per batch; kiosk is the rare slice


def labeled_rows(n_batches: int = 6, repeats: bool = True, seed: int = 7) -> pd.DataFrame:
    """n_batches x 200 rows, ~20% positives; with `repeats`, b06 re-delivers 8 ids of b04 and b05 5 ids of b01."""
    rng = np.random.default_rng(seed)
    parts = []
    for b in range(n_batches):
        batch_id = f"b{b + 1:02d}"
        n = sum(SLICES.values())
        parts.append(
            pd.DataFrame(
                {
                    "batch_id": batch_id,
                    "entity_id": [f"{batch_id}-{i:03d}" for i in range(n)],
                    "arrived_at": pd.Timestamp("2026-01-01") + pd.Timedelta(days=b),
                    "slice": np.repeat(list(SLICES), list(SLICES.values())),
                    "label": (rng.random(n) < 0.2).astype(int),
                    "recency": n_batches - b,
                    "x": rng.normal(size=n),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    if repeats:
        for newer, older, k in (("b06", "b04", 8), ("b05", "b01", 5)):
            rows = frame.index[frame["batch_id"] == newer][:k]
            frame.loc[rows, "entity_id"] = [f"{older}-{i:03d}" for i in range(k)]
    return frame.sort_values(["batch_id", "entity_id"]).reset_index(drop=True)


def newest_copies(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per entity, from its newest batch (no entity repeats within a batch here)."""
    return frame.sort_values("recency", kind="stable").drop_duplicates("entity_id")


def recency_of(frame: pd.DataFrame) -> dict[str, int]:
    return dict(zip(frame["batch_id"], frame["recency"], strict=True))


def expected_holdout(n_recent: int, fraction: float, minimum: int) -> int:
    return min(max(math.floor(Fraction(str(fraction)) * n_recent + Fraction(1, 2)), minimum), n_recent // 2)


def split(c: Composition, name: str) -> pd.DataFrame:
    return c.frame[c.frame["split"] == name].reset_index(drop=True)


# --- window -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "k"), [("all", 4), ("last", 2), ("last", 3), ("sliding", 2), ("sliding", 5), ("last", 10)]
)
def test_window_keeps_the_right_batches(window, k):
    rows = labeled_rows(repeats=False)
    c = compose(rows, Recipe(window=window, window_batches=k, holdout_batches=2))
    expected = rows if window == "all" else rows[rows["recency"] <= k]
    assert sorted(c.frame["batch_id"].unique()) == sorted(expected["batch_id"].unique())
    assert sorted(c.frame.loc[c.frame["copy"] == 0, "entity_id"]) == sorted(expected["entity_id"])


@pytest.mark.parametrize("window", ["all", "last"])
def test_all_and_last_weigh_every_row_one(window):
    c = compose(labeled_rows(), Recipe(window=window))
    assert (c.frame["weight"] == 1.0).all()


@pytest.mark.parametrize("half_life", [1.0, 2.0, 3.5])
def test_sliding_weights_follow_the_half_life_and_decrease_with_recency(half_life):
    rows = labeled_rows(repeats=False)
    c = compose(rows, Recipe(window="sliding", window_batches=5, half_life_batches=half_life))
    train = split(c, "train")
    recency = train["batch_id"].map(recency_of(rows))
    np.testing.assert_allclose(train["weight"], 0.5 ** ((recency - 1) / half_life))
    per_batch = train.groupby(recency)["weight"].agg(["min", "max"])
    assert (per_batch["min"] == per_batch["max"]).all()  # one weight per batch
    assert per_batch["max"].loc[1] == 1.0
    assert per_batch["max"].is_monotonic_decreasing and per_batch["max"].is_unique
    # one half-life back weighs half the newest batch
    assert per_batch["max"].loc[3] / per_batch["max"].loc[1] == pytest.approx(0.5 ** (2 / half_life))
    assert (split(c, "holdout")["weight"] == 1.0).all()


# --- duplicates -------------------------------------------------------------------------------


@pytest.mark.parametrize(("window", "k"), [("all", 4), ("last", 2), ("last", 1)])
def test_duplicates_keep_the_newest_copy_and_are_counted_over_the_whole_input(window, k):
    rows = labeled_rows()
    repeated = rows.loc[rows["entity_id"].duplicated(keep=False), "entity_id"].unique()
    assert len(repeated) > 0
    c = compose(rows, Recipe(window=window, window_batches=k, holdout_batches=1))
    assert c.duplicates_removed == len(rows) - rows["entity_id"].nunique()
    out = c.frame[c.frame["copy"] == 0].set_index("entity_id")
    assert out.index.is_unique
    newest = newest_copies(rows).set_index("entity_id")
    in_window = newest[(newest["recency"] <= k) | (window == "all")]
    assert sorted(out.index) == sorted(in_window.index)
    for entity in set(repeated) & set(in_window.index):
        assert out.loc[entity, "batch_id"] == newest.loc[entity, "batch_id"]
        assert out.loc[entity, "x"] == newest.loc[entity, "x"]


def tiny(copies: list[tuple[str, int, str, float]]) -> pd.DataFrame:
    """Entity "dup" in each of `copies` (batch_id, recency, arrived_at, x), plus 20 filler rows."""
    rows = [
        {
            "batch_id": b,
            "entity_id": "dup",
            "arrived_at": pd.Timestamp(t),
            "slice": "s",
            "label": 0,
            "recency": r,
            "x": x,
        }
        for b, r, t, x in copies
    ]
    rows += [
        {"batch_id": "a", "entity_id": f"f{i:02d}", "arrived_at": pd.Timestamp("2026-01-01"), "slice": "s"}
        | {"label": i % 2, "recency": 1, "x": -1.0}
        for i in range(20)
    ]
    return pd.DataFrame(rows).sort_values(["batch_id", "entity_id"], kind="stable").reset_index(drop=True)


@pytest.mark.parametrize(
    ("copies", "kept_x"),
    [
        pytest.param([("a", 1, "2026-01-01", 1.0), ("b", 2, "2026-01-05", 2.0)], 1.0, id="lowest-recency-wins"),
        pytest.param([("a", 1, "2026-01-02", 1.0), ("b", 1, "2026-01-01", 2.0)], 1.0, id="then-latest-arrival"),
        pytest.param([("a", 1, "2026-01-01", 1.0), ("b", 1, "2026-01-01", 2.0)], 2.0, id="then-greatest-batch"),
        pytest.param([("a", 1, "2026-01-01", 1.0), ("a", 1, "2026-01-01", 2.0)], 1.0, id="then-first-in-input"),
    ],
)
def test_duplicate_tie_breaks(copies, kept_x):
    c = compose(tiny(copies), Recipe(window="all", min_holdout_rows=0))
    kept = c.frame[c.frame["entity_id"] == "dup"]
    assert kept["x"].tolist() == [kept_x]
    assert c.duplicates_removed == len(copies) - 1


# --- holdout ----------------------------------------------------------------------------------


@pytest.mark.parametrize("holdout_batches", [1, 2, 3])
def test_holdout_comes_only_from_the_newest_batches(holdout_batches):
    rows = labeled_rows()
    c = compose(rows, Recipe(window="all", holdout_batches=holdout_batches))
    holdout = split(c, "holdout")
    recency = recency_of(rows)
    assert set(holdout["batch_id"]) == {b for b, r in recency.items() if r <= holdout_batches}


@pytest.mark.parametrize(
    ("fraction", "minimum"), [(0.3, 0), (0.2, 0), (0.5, 0), (0.3, 50), (0.1, 50), (0.3, 1000), (0.15, 7)]
)
def test_holdout_is_stratified_per_slice(fraction, minimum):
    rows = labeled_rows()
    recipe = Recipe(window="all", holdout_batches=2, holdout_fraction=fraction, min_holdout_rows=minimum)
    c = compose(rows, recipe)
    newest = newest_copies(rows)
    recent = newest[newest["recency"] <= 2]["slice"].value_counts()
    got = c.rows_by_slice["holdout"]
    assert set(got[got > 0].index) <= set(recent.index)
    for name, n in recent.items():
        assert got.loc[name] == expected_holdout(n, fraction, minimum)
        assert got.loc[name] <= n // 2  # training still sees the slice
        assert got.loc[name] >= min(minimum, n // 2)
        if minimum == 0 and n >= 20:
            assert abs(got.loc[name] / n - fraction) <= 0.5 / n + 1e-12


def test_min_holdout_rows_lifts_a_small_share_and_the_half_cap_bounds_it():
    rows = labeled_rows()
    newest = newest_copies(rows)
    n_app = int((newest["slice"].eq("app") & (newest["recency"] <= 2)).sum())
    assert round(0.1 * n_app) < 50 < n_app // 2  # so the minimum binds for app below
    lifted = compose(rows, Recipe(window="all", holdout_fraction=0.1, min_holdout_rows=50))
    assert lifted.rows_by_slice.loc["app", "holdout"] == 50
    capped = compose(rows, Recipe(window="all", holdout_fraction=0.1, min_holdout_rows=10 * n_app))
    assert capped.rows_by_slice.loc["app", "holdout"] == n_app // 2


@pytest.mark.parametrize(("fraction", "n"), [(0.25, 10), (0.25, 18), (0.29, 50), (0.35, 90), (0.3, 11)])
def test_the_holdout_share_is_rounded_half_up(fraction, n):
    rows = pd.concat([tiny([]).iloc[:1]] * n, ignore_index=True)
    rows = rows.assign(entity_id=[f"e{i:03d}" for i in range(n)])
    c = compose(rows, Recipe(window="all", holdout_fraction=fraction, min_holdout_rows=0))
    exact = Fraction(str(fraction)) * n  # exact decimal arithmetic, no float noise
    assert c.rows_by_slice.loc["s", "holdout"] == math.floor(exact + Fraction(1, 2))


def test_holdout_is_seeded():
    rows = labeled_rows()
    ids = [set(split(compose(rows, Recipe(window="last", seed=s)), "holdout")["entity_id"]) for s in (0, 0, 1)]
    assert ids[0] == ids[1]
    assert ids[0] != ids[2]


def test_an_entity_is_in_one_split_only():
    c = compose(labeled_rows(), Recipe(window="all", balance="upsample"))
    assert not set(split(c, "train")["entity_id"]) & set(split(c, "holdout")["entity_id"])


def test_short_slices_name_rare_and_unseen_slices_with_their_counts():
    rows = labeled_rows()
    legacy = rows.index[(rows["recency"] >= 4) & (rows["slice"] == "web")][::10]
    rows.loc[legacy, "slice"] = "legacy"  # a slice the newest batches never have
    c = compose(rows, Recipe(window="all", min_holdout_rows=50))
    holdout = c.rows_by_slice["holdout"]
    assert c.short_slices == {name: int(n) for name, n in holdout.items() if n < 50}
    newest = newest_copies(rows)  # a legacy row of b01 is superseded by b05's copy, which is "web"
    assert c.short_slices["legacy"] == 0
    assert c.rows_by_slice.loc["legacy", "train"] == (newest["slice"] == "legacy").sum() > 0
    n_kiosk = int((newest["slice"].eq("kiosk") & (newest["recency"] <= 2)).sum())
    assert c.short_slices["kiosk"] == n_kiosk // 2 > 0
    assert "web" not in c.short_slices and "app" not in c.short_slices


def test_row_counts_add_up():
    c = compose(labeled_rows(), Recipe(window="all", balance="upsample"))
    for table, by in ((c.rows_by_slice, "slice"), (c.rows_by_batch, "batch_id")):
        assert list(table.columns) == ["train", "holdout"]
        expected = c.frame.groupby([by, "split"]).size().unstack(fill_value=0)
        pd.testing.assert_series_equal(table["train"], expected["train"], check_names=False)
        assert table["holdout"].sum() == (c.frame["split"] == "holdout").sum()


# --- balance ----------------------------------------------------------------------------------


@pytest.mark.parametrize("window", ["last", "sliding"])
def test_weights_balance_equal_weighted_class_totals_in_train_only(window):
    rows = labeled_rows()
    c = compose(rows, Recipe(window=window, balance="weights"))
    plain = compose(rows, Recipe(window=window))
    pd.testing.assert_frame_equal(c.frame.drop(columns="weight"), plain.frame.drop(columns="weight"))
    train, plain_train = split(c, "train"), split(plain, "train")
    positive = train["label"] == 1
    assert train.loc[positive, "weight"].sum() == pytest.approx(train.loc[~positive, "weight"].sum(), rel=1e-12)
    assert train["weight"].sum() == pytest.approx(plain_train["weight"].sum(), rel=1e-12)
    ratio = train["weight"] / plain_train["weight"]  # one factor per class keeps the recency shape
    assert np.ptp(ratio[positive]) < 1e-12
    assert np.ptp(ratio[~positive]) < 1e-12
    assert (split(c, "holdout")["weight"] == 1.0).all()
    assert c.class_balance["applied"] is True
    assert c.class_balance["after"]["weighted_positive_share"] == pytest.approx(0.5)
    assert c.class_balance["before"] == plain.class_balance["before"]


def class_counts(frame: pd.DataFrame) -> tuple[int, int]:
    return int((frame["label"] == 1).sum()), int((frame["label"] == 0).sum())


def test_upsample_repeats_minority_rows_in_train_only():
    rows = labeled_rows()
    c = compose(rows, Recipe(window="last", balance="upsample"))
    plain = compose(rows, Recipe(window="last"))
    train, plain_train = split(c, "train"), split(plain, "train")
    positives, negatives = class_counts(plain_train)
    assert positives < negatives
    assert class_counts(train) == (negatives, negatives)
    pd.testing.assert_frame_equal(split(c, "holdout"), split(plain, "holdout"))
    pd.testing.assert_frame_equal(train[train["copy"] == 0].reset_index(drop=True), plain_train)
    copies = train[train["copy"] > 0]
    assert (copies["label"] == 1).all()
    assert not c.frame.duplicated(["entity_id", "copy"]).any()
    per_entity = copies.groupby("entity_id")["copy"].agg(["max", "size"])
    assert (per_entity["max"] == per_entity["size"]).all()  # copies numbered 1..n
    assert per_entity["size"].max() - per_entity["size"].min() <= 1  # repeated evenly
    originals = plain_train.set_index("entity_id")
    assert (copies["x"].to_numpy() == originals.loc[copies["entity_id"], "x"].to_numpy()).all()
    assert c.class_balance["after"]["positives"] == c.class_balance["after"]["negatives"] == negatives
    assert c.class_balance["before"] == plain.class_balance["before"]


def test_downsample_keeps_a_subset_of_the_majority_in_train_only():
    rows = labeled_rows()
    c = compose(rows, Recipe(window="last", balance="downsample"))
    plain = compose(rows, Recipe(window="last"))
    train, plain_train = split(c, "train"), split(plain, "train")
    positives, _ = class_counts(plain_train)
    assert class_counts(train) == (positives, positives)
    pd.testing.assert_frame_equal(split(c, "holdout"), split(plain, "holdout"))
    assert set(train.loc[train["label"] == 1, "entity_id"]) == set(
        plain_train.loc[plain_train["label"] == 1, "entity_id"]
    )
    assert set(train["entity_id"]) <= set(plain_train["entity_id"])
    assert (c.frame["copy"] == 0).all()


@pytest.mark.parametrize("balance", ["upsample", "downsample"])
def test_resampling_is_reproducible_for_a_seed_and_differs_for_another(balance):
    rows = labeled_rows()
    first, again = (compose(rows, Recipe(window="last", balance=balance, seed=3)) for _ in range(2))
    pd.testing.assert_frame_equal(first.frame, again.frame)
    # the same holdout under another seed's resampling: compare the resampled rows only
    other = compose(rows, Recipe(window="last", balance=balance, seed=4))

    def resampled(c: Composition) -> set:
        train = split(c, "train")
        chosen = train[train["copy"] > 0] if balance == "upsample" else train[train["label"] == 0]
        return set(zip(chosen["entity_id"], chosen["copy"], strict=True))

    assert resampled(first) == resampled(again)
    assert resampled(first) != resampled(other)


@pytest.mark.parametrize("balance", ["weights", "upsample", "downsample"])
def test_a_single_class_train_split_is_left_as_is(balance):
    rows = labeled_rows().assign(label=0)
    c = compose(rows, Recipe(window="last", balance=balance))
    plain = compose(rows, Recipe(window="last"))
    pd.testing.assert_frame_equal(c.frame, plain.frame)
    assert c.class_balance["applied"] is False
    assert "only negatives" in c.class_balance["note"]
    assert c.class_balance["before"] == c.class_balance["after"]


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"window": "recent"}, "window"),
        ({"window_rows": 0}, "window_rows"),
        ({"window_batches": 0}, "window_batches"),
        ({"window_batches": 2.5}, "window_batches"),
        ({"window_batches": True}, "window_batches"),
        ({"half_life_batches": 0}, "half_life_batches"),
        ({"half_life_batches": float("nan")}, "half_life_batches"),
        ({"half_life_batches": "2"}, "half_life_batches"),
        ({"balance": "smote"}, "balance"),
        ({"holdout_batches": 0}, "holdout_batches"),
        ({"holdout_batches": 5, "window_batches": 4, "window": "last"}, "holdout_batches"),
        ({"holdout_fraction": 0.0}, "holdout_fraction"),
        ({"holdout_fraction": 0.6}, "holdout_fraction"),
        ({"min_holdout_rows": -1}, "min_holdout_rows"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.0}, "seed"),
        ({"restart_on_decay": "yes"}, "restart_on_decay"),
    ],
)
def test_invalid_recipe_fields_are_named(fields, named):
    recipe = Recipe(**fields)
    with pytest.raises(ValueError, match=rf"\b{named} must"):
        recipe.validate()
    with pytest.raises(ValueError, match=rf"\b{named} must"):
        compose(labeled_rows(), recipe)


def test_holdout_batches_beyond_the_window_is_fine_with_all_history():
    assert Recipe(window="all", window_batches=1, holdout_batches=3).validate().holdout_batches == 3


def test_an_empty_window_names_the_field_to_change():
    rows = labeled_rows().assign(recency=lambda f: f["recency"] + 3)  # newest labeled rows have recency 4
    with pytest.raises(ValueError, match=r"window 'last' with window_batches=2 keeps no labeled rows"):
        compose(rows, Recipe(window="last", window_batches=2, holdout_batches=1))
    with pytest.raises(ValueError, match=r"no labeled rows"):
        compose(labeled_rows().iloc[:0], Recipe(window="all"))


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match=r"missing required columns: slice, recency"):
        compose(labeled_rows().drop(columns=["slice", "recency"]), Recipe())


# --- determinism and the record ---------------------------------------------------------------


@pytest.mark.parametrize("balance", ["none", "weights", "upsample", "downsample"])
def test_the_same_rows_and_recipe_give_the_same_composition(balance):
    rows = labeled_rows()
    before = rows.copy()
    recipe = Recipe(window="sliding", balance=balance, seed=5)
    first, second = compose(rows, recipe), compose(rows, recipe)
    pd.testing.assert_frame_equal(rows, before)  # the input is not modified
    pd.testing.assert_frame_equal(first.frame, second.frame)
    pd.testing.assert_frame_equal(first.rows_by_slice, second.rows_by_slice)
    pd.testing.assert_frame_equal(first.rows_by_batch, second.rows_by_batch)
    assert (first.recipe, first.duplicates_removed, first.short_slices, first.class_balance) == (
        second.recipe,
        second.duplicates_removed,
        second.short_slices,
        second.class_balance,
    )
    expected_columns = [c for c in rows.columns if c != "recency"] + ["split", "weight", "copy"]
    assert list(first.frame.columns) == expected_columns
    pd.testing.assert_frame_equal(first.frame, first.frame.sort_values(ORDER).reset_index(drop=True))


def test_the_recipe_round_trips_through_json():
    recipe = Recipe(window="sliding", window_batches=6, half_life_batches=1.5, balance="weights", seed=9)
    assert Recipe(**json.loads(json.dumps(recipe.as_dict()))) == recipe
    assert compose(labeled_rows(), recipe).recipe == recipe.as_dict()


# --- rows the champion learned ----------------------------------------------------------------


def test_rows_the_champion_learned_from_are_never_held_out_and_each_slice_keeps_its_share():
    rows = labeled_rows(repeats=False)
    recipe = Recipe(window="last", min_holdout_rows=10)
    # The champion learned from every batch but the newest, composed one retrain earlier.
    earlier = rows[rows["recency"] > 1].assign(recency=lambda f: f["recency"] - 1)
    learned = set(split(compose(earlier, recipe), "train")["entity_id"])
    blind = compose(rows, recipe)
    assert set(split(blind, "holdout")["entity_id"]) & learned  # what the gate used to judge the champion on

    c = compose(rows, recipe, learned)
    holdout = split(c, "holdout")
    assert not set(holdout["entity_id"]) & learned
    recent = rows[rows["recency"] <= recipe.holdout_batches]
    assert c.kept_from_holdout == int(recent["entity_id"].isin(learned).sum()) > 0
    unseen = recent[~recent["entity_id"].isin(learned)].groupby("slice").size()
    for name, n in recent.groupby("slice").size().items():
        wanted = expected_holdout(n, recipe.holdout_fraction, recipe.min_holdout_rows)
        assert c.rows_by_slice.loc[name, "holdout"] == min(wanted, unseen.get(name, 0)), name
    assert len(holdout) == len(split(blind, "holdout")) > 0  # kiosk still has enough unseen rows here
    assert c.short_slices == {n: int(k) for n, k in c.rows_by_slice["holdout"].items() if k < 10}


def test_a_slice_with_too_few_unseen_rows_gets_them_all_and_is_reported_short():
    rows = labeled_rows(repeats=False)
    recent = rows[rows["recency"] <= 2]
    learned = set(recent.loc[recent["slice"] == "kiosk", "entity_id"].iloc[:-2])  # two kiosk rows unseen
    c = compose(rows, Recipe(window="last", min_holdout_rows=5), learned)
    kiosk = split(c, "holdout").query("slice == 'kiosk'")
    assert len(kiosk) == 2 and not set(kiosk["entity_id"]) & learned
    assert c.short_slices == {"kiosk": 2}
    assert c.kept_from_holdout == len(learned)


@pytest.mark.parametrize("window", ["last", "sliding", "all"])
def test_a_decay_retrain_learns_from_the_decayed_batch_on(window):
    """Decay measured on the batch of recency 2 (b05 of six): the window keeps b05 and b06 only,
    the holdout is drawn from them, and the composed set holds no older row."""
    recipe = Recipe(window=window, window_batches=4, holdout_batches=3, restart_on_decay=True)
    restart = restarted(recipe, 2)
    assert (restart.window, restart.window_batches, restart.holdout_batches) == (
        "last" if window == "all" else window,
        2,
        2,
    )
    composed = compose(labeled_rows(), restart)
    assert sorted(composed.frame["batch_id"].unique()) == ["b05", "b06"]
    assert composed.recipe["window_batches"] == 2 and composed.recipe["restart_on_decay"] is True
    whole = compose(labeled_rows(), recipe.validate())
    assert len(whole.frame["batch_id"].unique()) == (6 if window == "all" else 4)


@pytest.mark.parametrize(
    ("recipe", "recency"),
    [
        (Recipe(window="last", restart_on_decay=False), 1),  # turned off
        (
            Recipe(window="last", window_batches=4, restart_on_decay=True),
            None,
        ),  # the decayed batch is not among the labeled ones
        (Recipe(window="last", window_batches=4, restart_on_decay=True), 4),  # the window starts there anyway
        (Recipe(window="last", window_batches=4, restart_on_decay=True), 6),  # or later
    ],
)
def test_a_decay_retrain_keeps_the_window_when_it_would_not_shrink(recipe, recency):
    assert restarted(recipe, recency) == recipe


@pytest.mark.parametrize("count", [1, 150, 250, 600, 10_000])
def test_a_rows_window_keeps_the_newest_rows_whole_batches_first(count):
    rows = labeled_rows(repeats=False)
    c = compose(rows, Recipe(window="rows", window_rows=count, holdout_batches=1, min_holdout_rows=0))
    kept = c.frame
    assert len(kept) == min(count, len(rows))
    # every batch newer than the oldest kept one is whole, and the oldest keeps its last rows
    oldest = rows.loc[rows["batch_id"].isin(kept["batch_id"]), "recency"].max()
    newer = rows[rows["recency"] < oldest]
    assert set(newer["entity_id"]) <= set(kept["entity_id"])
    cut = rows[rows["recency"] == oldest]
    mine = set(kept["entity_id"]) & set(cut["entity_id"])
    assert list(cut["entity_id"])[len(cut) - len(mine) :] == [e for e in cut["entity_id"] if e in mine]
    assert (kept["weight"][kept["split"] == "holdout"] == 1).all()


def test_window_auto_is_chosen_before_composing():
    with pytest.raises(ValueError, match="window 'auto' is chosen by validation first"):
        compose(labeled_rows(), Recipe())
