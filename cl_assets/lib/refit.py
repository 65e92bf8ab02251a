"""Would a retrain now change anything? The champion's recipe fitted twice, on the batches the
champion learned from and on the newest labeled batches, compared on a batch just scored.

Both fits use the champion's own parameters (no search), so they differ only in the data: what
the newest labels teach. Both score the new batch, whose labels do not exist yet, and the
comparison is the share of rows whose decision (score >= 0.5) flips, the mean absolute change
of the score, and the accuracy a retrain is expected to add (`compare`), overall and per slice. Comparing the refit with the champion itself would
also count what tuning and the holdout split change: on NOAA weather's 500-day batches it never
fell below 10% flips, even right after a retrain; two fits of the same recipe measure the data alone.

A flip is no proof that the newer fit is right, but it is what a retrain could change: when the
two fits agree on the data being served, retraining buys nothing however much the inputs
drifted; when they disagree on many rows, the newest labels taught something the champion does
not know.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cl_assets.lib import modeling
from cl_assets.lib.dataset import DatasetSpec


@dataclass(frozen=True)
class Comparison:
    frame: pd.DataFrame  # per slice and overall: rows, disagreement, expected_gain, mean_abs_change, positive rates
    refit_rows: int  # the newest rows
    seconds: float

    @property
    def overall(self) -> dict:
        return self.frame[self.frame["slice"] == modeling.OVERALL].iloc[0].to_dict()


def compare(before: np.ndarray, after: np.ndarray, slices: pd.Series) -> pd.DataFrame:
    """Decision flips, score change and the expected accuracy gain between two fits' scores of
    the same rows: `before` learned what the champion learned, `after` the newest labels.

    The expected gain assumes the newer fit is calibrated on the new rows: a row whose decision
    flips is then decided right by it with probability max(p, 1 - p) and by the older fit with
    the complement, a gain of |2p - 1|. Summed over the flips and divided by the rows, it is the
    accuracy a retrain would add, in accuracy points, estimated before any label exists."""
    frame = pd.DataFrame(
        {
            "slice": slices.astype(str).to_numpy(),
            "before": np.asarray(before, dtype=float),
            "after": np.asarray(after, dtype=float),
        }
    )
    frame["flip"] = (frame["before"] >= 0.5) != (frame["after"] >= 0.5)
    frame["change"] = (frame["before"] - frame["after"]).abs()
    frame["gain"] = frame["flip"] * (2 * frame["after"] - 1).abs()

    def summary(part: pd.DataFrame, name: str) -> dict:
        def mean(values) -> float:
            return float(values.mean()) if len(part) else 0.0

        return {
            "slice": name,
            "rows": len(part),
            "disagreement": mean(part["flip"]),
            "expected_gain": mean(part["gain"]),
            "mean_abs_change": mean(part["change"]),
            "champion_positive_rate": mean(part["before"] >= 0.5),
            "refit_positive_rate": mean(part["after"] >= 0.5),
        }

    rows = [summary(frame, modeling.OVERALL)]
    rows += [summary(part, str(name)) for name, part in frame.groupby("slice", sort=True)]
    return pd.DataFrame(rows)


def newest_rows(labeled: pd.DataFrame, window: int, learned: set[str]) -> pd.DataFrame:
    """The labeled rows the newer fit learns: the newest `window` batches (`recency` 1 = newest),
    none older than the oldest batch the champion `learned` from. Older batches would make the two
    fits differ in old data as well: a champion whose window restarted on performance decay left
    out the concept it failed on, and a refit that brought it back would pass the old concept off
    as what the newest labels teach."""
    if labeled.empty:
        return labeled
    limit = labeled["recency"].min() + window - 1
    own = labeled.loc[labeled["batch_id"].isin(learned), "recency"]
    if len(own):
        limit = min(limit, int(own.max()))
    return labeled[labeled["recency"] <= limit]


def refit_and_compare(
    learned: pd.DataFrame,
    newest: pd.DataFrame,
    batch: pd.DataFrame,
    spec: DatasetSpec,
    params: dict,
    seed: int = 0,
    n_jobs: int = 2,
) -> Comparison:
    """Fit `params` on the rows the champion `learned` from and on the `newest` labeled rows;
    compare their scores of `batch`."""
    for name, rows in (("the champion's training batches", learned), ("the newest batches", newest)):
        if rows.empty:
            raise ValueError(f"no labeled rows of {name} to refit on")
        if rows["label"].nunique() < 2:
            raise ValueError(f"the labeled rows of {name} hold one class only: nothing to refit")
    started = time.perf_counter()
    before = modeling.scores(modeling.fit(learned, spec, params, seed=seed, n_jobs=n_jobs), batch, spec)
    after = modeling.scores(modeling.fit(newest, spec, params, seed=seed, n_jobs=n_jobs), batch, spec)
    frame = compare(before, after, batch["slice"])
    return Comparison(frame, len(newest), time.perf_counter() - started)
