"""The training window chosen from the data: a few candidate windows, validated in time order.

Which history a model should learn from depends on the stream: under steady drift the newest
few batches win, on a stationary stream every batch does, after a concept change only the
batches since it. A default window suits one stream and loses on another. So each candidate
window (the newest 2, 4, 8, 16 batches, every batch, every batch with a row's weight halving
every 4 batches back) is fitted with the same parameters on the batches *before* a labeled
batch and scored on that batch, which none of them saw; the batch alone is a candidate too,
scored by two folds within it (what a retrain after an abrupt change should learn from): the one with the lowest log loss is
the window to learn from now (ties go to the one with fewer rows, the cheaper fit). The same
validation prices a retrain: the accuracy a window chosen on one half of that batch adds over
the champion on the other half (`lib/refit.py`).

Candidates that would read the same batches with the same weights are fitted once (with a
short history, `last 16` and `all` are one window).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss

from cl_assets.lib import modeling
from cl_assets.lib.composition import Recipe
from cl_assets.lib.dataset import DatasetSpec

TIE = 1e-4  # log losses this close are a tie: the window with fewer rows wins


@dataclass(frozen=True)
class Window:
    """A candidate window: the newest `batches` labeled batches (None: all of them), each row
    weighing 1, or 0.5 per `half_life` batches back."""

    name: str
    batches: int | None
    half_life: float | None = None

    def rows(self, history: pd.DataFrame) -> pd.DataFrame:
        """The rows of `history` (`recency` 1 = its newest batch) this window learns from, with a
        `weight` (the newest-only window learns from the validation batch itself: `validate`)."""
        kept = history if self.batches is None else history[history["recency"] <= self.batches]
        weight = np.ones(len(kept)) if self.half_life is None else 0.5 ** ((kept["recency"] - 1) / self.half_life)
        return kept.assign(weight=np.asarray(weight, dtype=float))

    def recipe(self, base: Recipe, labeled_batches: int) -> Recipe:
        """`base` with this window, over `labeled_batches` batches in all (the holdout kept inside it)."""
        count = labeled_batches if self.batches is None else min(max(self.batches, 1), labeled_batches)
        count = max(count, 1)
        window = "sliding" if self.half_life is not None else ("all" if self.batches is None else "last")
        return replace(
            base,
            window=window,
            window_batches=count if window != "all" else base.window_batches,
            half_life_batches=self.half_life if self.half_life is not None else base.half_life_batches,
            holdout_batches=min(base.holdout_batches, count),
        )


NEWEST = "newest only"  # the labeled batch itself, validated by two folds within it

CANDIDATES = (
    Window(NEWEST, 0),
    Window("last 2", 2),
    Window("last 4", 4),
    Window("last 8", 8),
    Window("last 16", 16),
    Window("all", None),
    Window("all, half-life 4", None, 4.0),
)


@dataclass(frozen=True)
class Score:
    """One candidate fitted on the history and scored on the validation batch."""

    window: Window
    batches: list[str]  # the batches it learned from
    rows: int
    accuracy: float
    log_loss: float
    correct: np.ndarray  # per validation row: 1 when decided right
    scores: np.ndarray  # per validation row: P(y = 1)

    def as_row(self) -> dict:
        return {
            "window_name": self.window.name,
            "window_batches": len(self.batches),
            "train_rows": self.rows,
            "accuracy": self.accuracy,
            "log_loss": self.log_loss,
        }


def validate(
    history: pd.DataFrame,
    target: pd.DataFrame,
    spec: DatasetSpec,
    params: dict,
    candidates: tuple[Window, ...] = CANDIDATES,
    seed: int = 0,
    n_jobs: int = 2,
) -> list[Score]:
    """Fit `params` on each candidate window of `history` (labeled rows with `recency`, 1 = the
    newest batch before the target) and score the `target` batch's labeled rows. Candidates
    whose rows hold one class only are left out; the same rows and weights are fitted once."""
    labels = target["label"].astype(int).to_numpy()
    out, seen = [], set()
    for window in candidates:
        if window.batches == 0:
            newest = _within(target, spec, params, seed, n_jobs)
            if newest is not None:
                out.append(Score(window, [str(target["batch_id"].iloc[0])], len(target), *newest))
            continue
        rows = window.rows(history)
        if rows.empty or rows["label"].nunique() < 2:
            continue
        batches = tuple(sorted(rows["batch_id"].unique()))
        key = (batches, window.half_life if len(batches) > 1 else None)  # one batch: every weight is 1
        if key in seen:
            continue
        model = modeling.fit(rows, spec, params, seed=seed, weight=rows["weight"], n_jobs=n_jobs)
        score = modeling.scores(model, target, spec)
        metrics = modeling.metrics(labels, score)
        seen.add(key)
        out.append(
            Score(
                window=window,
                batches=list(key[0]),
                rows=len(rows),
                accuracy=float(metrics["accuracy"]),
                log_loss=float(metrics["log_loss"]),
                correct=((score >= 0.5) == labels).astype(float),
                scores=score,
            )
        )
    return out


def _within(target: pd.DataFrame, spec: DatasetSpec, params: dict, seed: int, n_jobs: int):
    """The newest-only window: two seeded folds of the batch, each scored by a fit on the other
    (half the rows a retrain on it would have: the estimate errs on the cautious side)."""
    labels = target["label"].astype(int).to_numpy()
    fold = np.random.default_rng(seed).permutation(len(target)) % 2
    score = np.empty(len(target))
    for k in (0, 1):
        train = target[fold != k]
        if train["label"].nunique() < 2:
            return None
        model = modeling.fit(train.assign(weight=1.0), spec, params, seed=seed, n_jobs=n_jobs)
        score[fold == k] = modeling.scores(model, target[fold == k], spec)
    metrics = modeling.metrics(labels, score)
    return float(metrics["accuracy"]), float(metrics["log_loss"]), ((score >= 0.5) == labels).astype(float), score


def choose(scores: list[Score], labels: np.ndarray | None = None, rows: np.ndarray | None = None) -> Score:
    """The candidate with the lowest log loss on the validation batch (or on its `rows`, a boolean
    mask, given the batch's `labels`); within TIE of it, the one with fewer rows."""
    if not scores:
        raise ValueError("no candidate window could be fitted (no labeled history with both labels)")
    if rows is None:
        losses = {id(s): s.log_loss for s in scores}
    else:
        y = np.asarray(labels, dtype=int)[rows]
        losses = {id(s): float(log_loss(y, s.scores[rows], labels=[0, 1])) for s in scores}
    best = min(losses.values())
    return min((s for s in scores if losses[id(s)] <= best + TIE), key=lambda s: (s.rows, losses[id(s)]))


def history_before(labeled: pd.DataFrame, batch_id: str) -> pd.DataFrame:
    """The labeled rows (`recency` 1 = newest batch) of the batches that arrived before `batch_id`,
    renumbered so that 1 is the newest of them: what a candidate window may learn from when it is
    scored on that batch; none when the batch itself is not among them."""
    mine = labeled.loc[labeled["batch_id"] == batch_id, "recency"]
    if mine.empty:
        return labeled.iloc[0:0]
    older = labeled[labeled["recency"] > int(mine.min())]
    return older.assign(recency=older["recency"] - int(mine.min()))


def split_newest(labeled: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Labeled rows (`recency` 1 = newest batch) as (history, newest batch), the history's recency
    renumbered so that 1 is its own newest batch."""
    newest = labeled[labeled["recency"] == labeled["recency"].min()]
    return history_before(labeled, str(newest["batch_id"].iloc[0])), newest


def by_name(name: str) -> Window:
    """The candidate window of this name."""
    return next(w for w in CANDIDATES if w.name == name)
