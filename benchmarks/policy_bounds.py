"""Benchmark: how good can a retrain policy be? Bounds from hindsight, on the loop's timing.

A fast model of the loop, outside Dagster, to see what the retrain-policy aim asks for. The
history (default: the NOAA weather file in `benchmarks/data/`) is cut into batches of
`--batch-rows`; a model is XGBoost with fixed parameters fitted on the newest `--window`
labeled batches (the training set's default window, no search, no gate). The timing is the
loop's: at tick k batch k lands and is scored by the champion, the labels of batch k-1 arrive,
and a retrain then learns batches up to k-1 and scores from batch k+1 on. Every batch is
scored by every model that could have served it, once, so every policy below is exact:

- `periodic:K@P`: retrain every K ticks, at the ticks k with k % K == P (`periodic:1` is the
  reference of the aim; the loop's `periodic:K` counts from the first model, at tick 1: P = 1);
- `expected_gain>=G`: retrain when a refit on the newest labels is expected to add at least G
  accuracy on the batch just landed (the statistic of `refit_check`, lib/refit.py);
- `hindsight<=N`: the best schedule of at most N retrains, chosen knowing every batch's labels
  (dynamic programming): no causal policy can do better with N retrains.

Each line gives the mean accuracy gap to `periodic:1` in points (negative: worse) and the share
of its retrains. Issue 4's aim is a gap of at most half a point at a third of the retrains.

    uv run python benchmarks/policy_bounds.py [--batch-rows 700] [--window 4]
"""

from __future__ import annotations

import argparse
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from xgboost import XGBClassifier

from cl_assets.lib import refit

NOAA = Path(__file__).parent / "data" / "noaa_weather.csv"
PARAMS = {
    "n_estimators": 150,
    "max_depth": 4,
    "learning_rate": 0.05,
    "min_child_weight": 2.0,
    "subsample": 0.9,
    "colsample_bytree": 0.9,
    "tree_method": "hist",
    "n_jobs": 2,
    "random_state": 0,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", default=str(NOAA))
    parser.add_argument("--target", default="rain")
    parser.add_argument("--time", default="day")
    parser.add_argument("--batch-rows", type=int, default=700)
    parser.add_argument("--window", type=int, default=4, help="labeled batches a model learns from")
    args = parser.parse_args()

    frame = pd.read_csv(args.file).sort_values(args.time, kind="stable")
    x = frame.drop(columns=[args.time, args.target]).to_numpy(dtype=float)
    y = frame[args.target].to_numpy(dtype=int)
    rows = [np.arange(lo, min(lo + args.batch_rows, len(frame))) for lo in range(0, len(frame), args.batch_rows)]
    count = len(rows)
    models = []
    for through in range(count):  # model `through`: learned batches through-window+1 .. through
        learned = np.concatenate(rows[max(0, through - args.window + 1) : through + 1])
        models.append(XGBClassifier(**PARAMS).fit(x[learned], y[learned]))
    scores = {(m, b): models[m].predict_proba(x[rows[b]])[:, 1] for m in range(count) for b in range(m + 1, count)}

    def accuracy(model: int, batch: int) -> float:
        return float(((scores[model, batch] >= 0.5) == y[rows[batch]]).mean())

    def play(decide) -> tuple[float, int]:
        """Mean accuracy over batches 2.. and retrains; `decide(champion, k)` at tick k."""
        champion, served, retrains = 0, [], 0
        for k in range(2, count):
            served.append(accuracy(champion, k))
            if k < count - 1 and decide(champion, k):
                champion, retrains = k - 1, retrains + 1
        return float(np.mean(served)), retrains

    every, every_retrains = play(lambda champion, k: True)
    print(f"batches={count} batch_rows={args.batch_rows} window={args.window} periodic_1_accuracy={every:.4f}")

    def line(name: str, result: tuple[float, int]) -> None:
        mean, retrains = result
        print(
            f"policy={name:22s} gap_points={100 * (mean - every):+.2f} retrains={retrains:3d} "
            f"share={retrains / every_retrains:.2f}"
        )

    for k in (2, 3, 4):  # every phase: which ticks a schedule lands on matters as much as how often
        for phase in range(k):
            line(f"periodic:{k}@{phase}", play(lambda champion, tick, k=k, phase=phase: tick % k == phase))
    for gain in (0.015, 0.02, 0.025, 0.03):

        def expected(champion: int, k: int, gain: float = gain) -> bool:
            if champion >= k - 1:
                return False  # no labels newer than the champion's
            before, after = scores[champion, k], scores[k - 1, k]
            compared = refit.compare(before, after, pd.Series(["all"] * len(before)))
            return float(compared["expected_gain"].iloc[0]) >= gain

        line(f"expected_gain>={gain}", play(expected))

    @cache
    def best(k: int, champion: int, left: int) -> float:
        """The largest sum of accuracies from tick k on, with `left` retrains to spend."""
        if k >= count:
            return 0.0
        here = accuracy(champion, k)
        keep = here + best(k + 1, champion, left)
        if left and k < count - 1:
            return max(keep, here + best(k + 1, k - 1, left - 1))
        return keep

    sys.setrecursionlimit(max(10_000, 4 * count * count))
    scored = count - 2
    for share in (0.2, 1 / 3, 0.5):
        budget = int(share * every_retrains)
        line(f"hindsight<={budget}", (best(2, 0, budget) / scored, budget))


if __name__ == "__main__":
    sys.exit(main())
