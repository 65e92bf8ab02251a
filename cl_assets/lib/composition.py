"""A training set composed from a recorded recipe: de-duplication, window, holdout, class balance.

Pure pandas/numpy. `compose` applies the steps in this order, each to the result of the previous:

1. de-duplicate entity_ids over the whole input (the copy from the newest batch wins);
2. keep the window, weighting rows by recency for "sliding";
3. draw the holdout per slice from the newest `holdout_batches` batches, never taking a row the
   current champion learned from (`learned`), so that the gate judges both models on unseen rows;
4. balance the train split (class weights, upsampling or downsampling); the holdout is left as drawn.

An entity therefore appears in one split only, and the same rows and recipe give the same training set.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

REQUIRED = ("batch_id", "entity_id", "arrived_at", "slice", "label", "recency")
ADDED = ("split", "weight", "copy")
WINDOWS = ("auto", "all", "last", "sliding", "rows")
BALANCES = ("none", "weights", "upsample", "downsample")
TRAIN, HOLDOUT = "train", "holdout"
ORDER = ["batch_id", "entity_id", "copy"]


@dataclass(frozen=True)
class Recipe:
    """How a training set is composed from the labeled rows; recorded with every training set version."""

    # Which labeled batches to learn from: "all" = every batch; "last" = the newest window_batches
    # batches, every row weighing 1; "sliding" = the newest window_batches batches, newer rows weighing more;
    # "rows" = the newest window_rows labeled rows, every row weighing 1 (a cron job's "the last N rows");
    # "auto" = one of "last" (2, 4, 8, 16 batches), "all" or "sliding" chosen by time-ordered validation
    # (lib/windows.py) before composing: `compose` takes the chosen recipe, never "auto" itself.
    window: str = "auto"
    # How many of the newest labeled batches "last" and "sliding" keep (at least 1; "all" ignores it).
    window_batches: int = 4
    # "rows" only: how many of the newest labeled rows (whole batches, newest first; the oldest one cut
    # to its last rows in id order).
    window_rows: int = 5000
    # "sliding" only: a row's weight halves every this many batches back; rows of the newest batch weigh 1.
    half_life_batches: float = 2.0
    # How the two labels are evened out in the train split: "none" = left as they are; "weights" = class
    # weights so both labels weigh the same in total; "upsample" = repeat random rows of the rarer label
    # until the counts are equal; "downsample" = keep a random subset of the commoner label, as many as the rarer.
    balance: str = "none"
    # The holdout is drawn from the newest this many labeled batches (at least 1; at most window_batches).
    holdout_batches: int = 2
    # Share of each slice's rows in those batches that is held out (above 0, at most 0.5), rounded half up.
    holdout_fraction: float = 0.3
    # Per slice, hold out at least this many rows, but never more than half of the slice's rows in those
    # batches; a slice left with fewer is reported as short.
    min_holdout_rows: int = 50
    # Seed of the random draws (holdout, upsampling, downsampling); the same rows and recipe give the same set.
    seed: int = 0
    # A retrain triggered by performance decay alone learns only from the batch whose labels showed the
    # decay onward (`restarted`): the rest of the window holds the concept the champion failed on.
    # Off by default: the window chosen by validation (window 'auto') starts after a change by itself, and
    # a floor kept every later window short on a stream that drifts all the time (NOAA weather).
    restart_on_decay: bool = False

    def validate(self) -> Recipe:
        """Return the recipe, or raise ValueError naming every invalid field and what it allows."""
        problems = []
        if self.window not in WINDOWS:
            problems.append(f"window must be one of {', '.join(map(repr, WINDOWS))}, got {self.window!r}")
        if self.balance not in BALANCES:
            problems.append(f"balance must be one of {', '.join(map(repr, BALANCES))}, got {self.balance!r}")
        for name, low in (
            ("window_batches", 1),
            ("window_rows", 1),
            ("holdout_batches", 1),
            ("min_holdout_rows", 0),
            ("seed", 0),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                problems.append(f"{name} must be an integer >= {low}, got {value!r}")
        if not isinstance(self.restart_on_decay, bool):
            problems.append(f"restart_on_decay must be true or false, got {self.restart_on_decay!r}")
        if not _number(self.half_life_batches) or not self.half_life_batches > 0:
            problems.append(f"half_life_batches must be a number > 0, got {self.half_life_batches!r}")
        if not _number(self.holdout_fraction) or not 0 < self.holdout_fraction <= 0.5:
            problems.append(f"holdout_fraction must be a number in (0, 0.5], got {self.holdout_fraction!r}")
        if not problems and self.window in ("last", "sliding") and self.holdout_batches > self.window_batches:
            problems.append(
                f"holdout_batches must be at most window_batches ({self.window_batches}) with window "
                f"{self.window!r}, got {self.holdout_batches}"
            )
        if problems:
            raise ValueError("invalid recipe: " + "; ".join(problems))
        return self

    def as_dict(self) -> dict:
        """The recipe as a JSON-serializable dict; `Recipe(**recipe.as_dict())` rebuilds it."""
        return asdict(self)


def restarted(recipe: Recipe, recency: int | None) -> Recipe:
    """The recipe of a retrain that performance decay triggered, the decay measured on the labeled
    batch of this `recency` (1 = newest): its window starts at that batch, so the model learns the
    concept the champion failed on and none of the one before (a holdout drawn from as many of
    those batches as the recipe allows). Unchanged when `restart_on_decay` is off, the batch is
    unknown, or the window starts there or later anyway."""
    if not recipe.restart_on_decay or recency is None:
        return recipe
    if recipe.window in ("last", "sliding") and recency >= recipe.window_batches:
        return recipe
    return replace(
        recipe,
        window=recipe.window if recipe.window == "sliding" else "last",
        window_batches=recency,
        holdout_batches=min(recipe.holdout_batches, recency),
    )


@dataclass
class Composition:
    """A composed training set and what it is made of."""

    frame: pd.DataFrame  # input columns minus recency, plus split, weight, copy; ordered by batch_id, entity_id, copy
    recipe: dict
    duplicates_removed: int  # rows dropped over the whole input because a newer batch had the same entity_id
    rows_by_slice: pd.DataFrame  # index slice; columns train, holdout (rows of `frame`, upsampled copies included)
    rows_by_batch: pd.DataFrame  # index batch_id; columns train, holdout
    short_slices: dict[str, int]  # slices with fewer than min_holdout_rows holdout rows -> their holdout rows
    class_balance: dict  # balance, applied, note, and before/after: positives, negatives, weighted_positive_share
    kept_from_holdout: int  # rows of the holdout batches that `learned` kept out of the holdout draw


def compose(frame: pd.DataFrame, recipe: Recipe, learned: Collection[str] = ()) -> Composition:
    """Compose a training set from labeled rows (one per example, `recency` 1 = newest batch) by `recipe`.

    `learned`: entity_ids the current champion was trained on. None of them is drawn into the
    holdout: the gate scores the champion on the candidate's holdout, and a row a model learned
    from flatters it. Each slice still gets its share of the holdout batches' rows, as far as the
    rows it may draw from allow.
    """
    recipe = recipe.validate()
    _check_input(frame)
    rows, duplicates = _deduplicate(frame)
    rows = _window(rows, recipe)
    recency = rows["recency"].to_numpy(dtype=np.int64)
    recent = recency <= recipe.holdout_batches
    unseen = ~rows["entity_id"].isin(learned).to_numpy()
    labels = rows["label"].to_numpy()
    weight = np.ones(len(rows))
    if recipe.window == "sliding":
        weight = 0.5 ** ((recency - 1) / recipe.half_life_batches)
    rng = np.random.default_rng(recipe.seed)  # holdout first, so the balance mode never changes the holdout
    split = _draw_holdout(rows["slice"].to_numpy(), recent, unseen, recipe, rng)
    weight[split == HOLDOUT] = 1.0
    train = np.flatnonzero(split == TRAIN)
    before = _class_summary(labels[train], weight[train])
    take, copy, weight, applied, note = _balance(labels, weight, train, recipe.balance, rng)
    after = _class_summary(labels[take], weight[take])
    take = np.concatenate([take, np.flatnonzero(split == HOLDOUT)])
    copy = np.concatenate([copy, np.zeros(len(take) - len(copy), dtype=np.int64)])
    out = rows.iloc[take].drop(columns="recency").assign(split=split[take], weight=weight[take], copy=copy)
    out = out.sort_values(ORDER).reset_index(drop=True)
    by_slice = _counts(out, "slice")
    return Composition(
        frame=out,
        recipe=recipe.as_dict(),
        duplicates_removed=duplicates,
        rows_by_slice=by_slice,
        rows_by_batch=_counts(out, "batch_id"),
        short_slices={name: int(n) for name, n in by_slice[HOLDOUT].items() if n < recipe.min_holdout_rows},
        class_balance={"balance": recipe.balance, "applied": applied, "note": note, "before": before, "after": after},
        kept_from_holdout=int((recent & ~unseen).sum()),
    )


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_input(frame: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"the labeled rows are missing required columns: {', '.join(missing)}")
    taken = [c for c in ADDED if c in frame.columns]
    if taken:
        raise ValueError(f"the labeled rows already have columns that compose adds: {', '.join(taken)}")
    nulls = [c for c in REQUIRED if c != "arrived_at" and frame[c].isna().any()]
    if nulls:
        raise ValueError(f"the labeled rows have nulls in: {', '.join(nulls)}")
    if not frame["label"].isin([0, 1]).all():
        raise ValueError("label must be 0 or 1 in every labeled row")
    if (frame["recency"] < 1).any():
        raise ValueError("recency must be >= 1 (1 = newest labeled batch) in every labeled row")


def _deduplicate(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep one row per entity_id: lowest recency, then latest arrived_at, greatest batch_id, first in input.

    Done over the whole input, before the window: `duplicates_removed` then counts every superseded
    row. The rows kept inside the window are the same either way, since the kept copy is the one
    with the lowest recency and the window is a recency cut.
    """
    ranked = frame.assign(_position=np.arange(len(frame))).sort_values(
        ["recency", "arrived_at", "batch_id", "_position"], ascending=[True, False, False, True], na_position="last"
    )
    kept = ranked[~ranked.duplicated("entity_id", keep="first")]
    kept = kept.sort_values(["batch_id", "entity_id", "_position"]).drop(columns="_position")
    return kept.reset_index(drop=True), len(frame) - len(kept)


def _window(rows: pd.DataFrame, recipe: Recipe) -> pd.DataFrame:
    if rows.empty:
        raise ValueError("no labeled rows yet: a training set needs batches whose labels have arrived")
    if recipe.window == "auto":
        raise ValueError("window 'auto' is chosen by validation first (lib/windows.py): compose the chosen recipe")
    if recipe.window == "all":
        return rows
    if recipe.window == "rows":
        return _newest_rows(rows, recipe.window_rows)
    kept = rows[rows["recency"] <= recipe.window_batches].reset_index(drop=True)
    if kept.empty:
        raise ValueError(
            f"window {recipe.window!r} with window_batches={recipe.window_batches} keeps no labeled rows; "
            f"raise window_batches (the newest labeled row has recency {int(rows['recency'].min())}) or use window 'all'"
        )
    return kept


def _newest_rows(rows: pd.DataFrame, count: int) -> pd.DataFrame:
    """The newest `count` rows: whole batches newest first, the oldest of them cut to its last rows
    (in the input's order, batch then entity id)."""
    ordered = rows.assign(_position=np.arange(len(rows))).sort_values(["recency", "_position"], ascending=[True, False])
    kept = ordered.head(count).sort_values("_position").drop(columns="_position")
    return kept.reset_index(drop=True)


def _holdout_size(n_recent: int, recipe: Recipe) -> int:
    # rounded half up, not to even; round(, 9) first so 0.29 * 50 (14.4999...) counts as the 14.5 it means
    share = math.floor(round(recipe.holdout_fraction * n_recent, 9) + 0.5)
    return min(max(share, recipe.min_holdout_rows), n_recent // 2)


def _draw_holdout(
    slices: np.ndarray, recent: np.ndarray, unseen: np.ndarray, recipe: Recipe, rng: np.random.Generator
) -> np.ndarray:
    """Per slice, its holdout size of the recent rows, drawn from the recent rows that are unseen."""
    split = np.full(len(slices), TRAIN, dtype=object)
    for name in sorted(pd.unique(slices[recent])):
        in_slice = recent & (slices == name)
        positions = np.flatnonzero(in_slice & unseen)
        size = min(_holdout_size(int(in_slice.sum()), recipe), len(positions))
        split[rng.choice(positions, size, replace=False)] = HOLDOUT
    return split


def _balance(
    labels: np.ndarray, weight: np.ndarray, train: np.ndarray, balance: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, str]:
    """(train positions to keep, possibly repeated; their copy numbers; row weights; applied; note)."""
    copy = np.zeros(len(train), dtype=np.int64)
    positive = labels[train] == 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if balance == "none":
        return train, copy, weight, False, "balance 'none': train rows left as drawn"
    if n_pos == 0 or n_neg == 0:
        only = "positives" if n_neg == 0 else "negatives"
        return train, copy, weight, False, f"train has only {only}: balance {balance!r} has nothing to even out"
    if balance == "weights":
        # totals of weights, not counts, so that recency weights keep their shape within each class
        total, pos_total = weight[train].sum(), weight[train][positive].sum()
        weight = weight.copy()
        weight[train] *= np.where(positive, total / (2 * pos_total), total / (2 * (total - pos_total)))
        return train, copy, weight, True, "class weights: both labels weigh half of the train total"
    if n_pos == n_neg:
        return train, copy, weight, False, f"train already has {n_pos} rows of each label"
    minority = train[positive] if n_pos < n_neg else train[~positive]
    majority = train[~positive] if n_pos < n_neg else train[positive]
    if balance == "downsample":
        keep = np.sort(rng.choice(majority, len(minority), replace=False))
        kept = np.sort(np.concatenate([minority, keep]))
        return (
            kept,
            np.zeros(len(kept), dtype=np.int64),
            weight,
            True,
            f"kept {len(keep)} of {len(majority)} majority rows",
        )
    # upsample: every minority row repeated equally often, a random subset of them once more
    deficit = len(majority) - len(minority)
    repeats = np.full(len(minority), deficit // len(minority))
    repeats[rng.choice(len(minority), deficit % len(minority), replace=False)] += 1
    copies = np.repeat(minority, repeats)
    numbers = np.arange(len(copies)) - np.repeat(np.cumsum(repeats) - repeats, repeats) + 1
    note = f"added {deficit} copies of {len(minority)} minority rows"
    return np.concatenate([train, copies]), np.concatenate([copy, numbers]), weight, True, note


def _class_summary(labels: np.ndarray, weight: np.ndarray) -> dict:
    positive = labels == 1
    total = float(weight.sum())
    return {
        "positives": int(positive.sum()),
        "negatives": int((~positive).sum()),
        "weighted_positive_share": float(weight[positive].sum()) / total if total else None,
    }


def _counts(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    counts = frame.groupby([by, "split"], observed=True).size().unstack(fill_value=0)
    counts = counts.reindex(columns=[TRAIN, HOLDOUT], fill_value=0).sort_index()
    counts.columns.name = None
    return counts
