"""Benchmark: how to spend two cores on `cl_assets.lib.tuning.tune`.

It builds a synthetic binary classification set of `--rows` rows x 12 numeric features (a
nonlinear label: interactions, a sine, a threshold, a little label noise, a few NaNs) and runs
the same search (`--trials` trials, `--seed`, no time limit) three ways:

- 1thread: one trial at a time, XGBoost on one thread (parallel=1, cores=1)
- 2threads: one trial at a time, XGBoost on both threads (parallel=1, cores=2)
- parallel2: two trials at a time, one thread each (parallel=2, cores=2)

The same seed gives the first two ways the same points; parallel=2 asks its second point while
the first is pending, so its later points may differ (and their tree counts with them), which is
why the rate is trials per second and the best loss is printed beside it. peak_mb is the highest
per-trial peak resident memory of the process.

    uv run python benchmarks/tuning.py [--rows 50000] [--trials 20] [--seed 0]

One line per way: `way=<name> trials=<n> seconds=<s> trials_per_s=<r> best_loss=<l> peak_mb=<m>`,
then `best_way=<name> speedup_vs_1thread=<x>` (trials per second of the best way over 1thread).
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pandas as pd

from cl_assets.lib.tuning import Budget, tune

WAYS = {"1thread": (1, 1), "2threads": (1, 2), "parallel2": (2, 2)}  # name: (parallel, cores)


def dataset(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """12 numeric features and a 0/1 label that no single split or linear model captures."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(rows, 12)), columns=[f"x{i:02d}" for i in range(12)])
    X["x11"] = rng.exponential(size=rows)
    logit = (
        np.sin(2 * X.x00)
        + X.x01 * X.x02
        - 0.5 * X.x03**2
        + np.where(X.x04 > 0.5, 1.0, -0.5)
        + 0.3 * X.x05
        - 0.4 * np.log1p(X.x11)
        + 0.2 * X.x06 * X.x07
    )
    y = (rng.random(rows) < 1 / (1 + np.exp(-1.5 * logit))).astype(int)
    X.loc[rng.random(rows) < 0.02, "x08"] = np.nan
    return X, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    X, y = dataset(args.rows, args.seed)
    budget = Budget(max_trials=args.trials, max_seconds=math.inf)
    rates: dict[str, float] = {}
    for name, (parallel, cores) in WAYS.items():
        result = tune(X, y, budget=budget, seed=args.seed, cores=cores, parallel=parallel)
        rates[name] = len(result.trials) / result.seconds
        peak = max(t.peak_mb for t in result.trials)
        print(
            f"way={name} trials={len(result.trials)} seconds={result.seconds:.2f} trials_per_s={rates[name]:.3f}"
            f" best_loss={result.best.loss:.5f} peak_mb={peak:.0f}",
            flush=True,
        )
    best = max(rates, key=rates.get)
    print(f"best_way={best} speedup_vs_1thread={rates[best] / rates['1thread']:.2f}")


if __name__ == "__main__":
    main()
