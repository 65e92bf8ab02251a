"""Benchmark: how well, and how cheaply, the retrain policies keep a model good on real drift.

It replays a history (default: the whole NOAA weather file in `benchmarks/data/`, 50 years of
days cut into batches of `--batch-rows`) under each policy with `cl backtest`, each in its own
state folder (DuckDB, MLflow on sqlite, a Dagster instance), two policies at a time, and prints
their mean prequential accuracy, ROC AUC and retrains. `auto` is the platform's configured
triggers with the default `RetrainPolicy`; `auto:NAME=VALUE...` changes its controls, so a sweep
of settings is one call:

    uv run python benchmarks/policies.py [--batch-rows 700] [--policies periodic:1,auto,never] [--seeds 0,1,2]

Issue 4's aim is that `auto` keeps accuracy within half a point of retraining every batch
(`periodic:1`) with a third of its retrains or fewer. One line per policy, then, for each
`auto...` policy when `periodic:1` ran:
`aim policy=<p> accuracy_gap_points=<x> ci95=<lo>..<hi> retrain_share=<y> met=<yes|no>`:
the gap is the mean of the batch-by-batch differences (negative: auto is worse), with its 95%
interval; `met` judges the point estimate, and the interval says how far to trust it (on 26
batches it is about two points wide). With `--seeds`, every policy is replayed once per seed and
judged by its mean over them; `seeds=<lo>..<hi>` is the range of the gaps the seeds gave one by
one (one seed's models are one draw: on the 500-day cut `periodic:1` alone moved 1.5 points
between seeds 0 and 3).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from cl_assets import cli

NOAA = Path(__file__).parent / "data" / "noaa_weather.csv"
EVERY_BATCH = "periodic:1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", default=str(NOAA), help="CSV with columns day and rain (default: NOAA weather)")
    parser.add_argument("--target", default="rain")
    parser.add_argument("--time", default="day")
    parser.add_argument("--batch-rows", type=int, default=700)
    parser.add_argument("--policies", default=f"{EVERY_BATCH},auto,never")
    parser.add_argument("--seeds", default="0", help="base seeds, comma-separated (default 0)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cl-policies-") as home:
        report = Path(home) / "report.json"
        cli.main(
            ["backtest", args.file, "--target", args.target, "--time", args.time]
            + ["--batch-rows", str(args.batch_rows), "--policies", args.policies, "--jobs", str(args.jobs)]
            + ["--seeds", args.seeds]
            + ["--home", home, "--report", str(report)]
        )
        results = json.loads(report.read_text())["policies"]
    print()
    for name, r in results.items():
        print(
            f"policy={name} batches={r['batches']} mean_accuracy={r['mean_accuracy']:.4f} "
            f"mean_roc_auc={r['mean_roc_auc']:.4f} retrains={r['retrains']:g} elapsed_s={r['elapsed_s']:.1f}"
        )
    every = results.get(EVERY_BATCH)
    if every is None:
        return
    for name, r in results.items():
        if name.startswith("auto"):
            v = r["vs_baseline"]
            gap, (low, high), share = v["accuracy_gap_points"], v["ci95_points"], v["retrain_share"]
            met = "yes" if gap >= -0.5 and share <= 1 / 3 else "no"
            by_seed = [g for g in v.get("gap_by_seed_points", {}).values() if g is not None]
            seeds = f" seeds={min(by_seed):.2f}..{max(by_seed):.2f}" if by_seed else ""
            print(
                f"aim policy={name} accuracy_gap_points={gap:.2f} ci95={low:.2f}..{high:.2f}{seeds} "
                f"retrain_share={share:.2f} met={met}"
            )


if __name__ == "__main__":
    sys.exit(main())
