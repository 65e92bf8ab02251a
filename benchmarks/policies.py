"""Benchmark: does `auto` beat a cron job, on many streams? Issue 21's aim, printed per stream.

Streams: NOAA weather (the whole file in `benchmarks/data/`) cut into 500, 700 and 1,000 days
per batch, the built-in story (`cl backtest --demo`), and the generated streams of
`cl_assets/lib/streams.py` with known change points (an abrupt concept change that moves no
feature, a gradual concept drift, covariate shift with P(y|x) unchanged, a label-prior shift,
a recurring concept, and a stationary stream). Each is replayed by `cl backtest` under `auto`
(the platform's defaults) and `periodic:1` (a full retrain, searched and gated, every batch),
each in its own state folder (DuckDB, MLflow on sqlite, a Dagster instance).

The naive policies `fixed:K:ROWS` (every K labeled batches on the newest ROWS rows, XGBoost 200
trees, depth 6, learning rate 0.1, no search, no gate) run over a grid, K in 1, 2, 3, 5 and ROWS
the rows of 2, 4, 8 and 16 batches. By default the grid is computed in this process
(`naive`): the same models on the same rows at the same moments as `cl backtest --policies
fixed:K:ROWS` (trained on the labels that arrived by the tick, serving the batches that land
after it), a few seconds instead of minutes per policy. `--fixed-in-backtest` replays the grid
through `cl backtest` instead; `--check-naive` replays one fixed policy both ways and prints the two.

Per stream it prints auto, every batch and the best naive policy with no more retrains than
auto, then `aim stream=<s> vs_fixed_points=<x> vs_every_points=<y> retrain_share=<z> met=yes|no`:
auto's mean prequential accuracy at least the best such naive policy's, within 0.5 point of
every batch, with at most a third of its retrains.

    uv run python benchmarks/policies.py [--streams noaa500,abrupt_concept] [--jobs 2] [--report out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cl_assets import cli
from cl_assets.lib import modeling, streams

NOAA = Path(__file__).parent / "data" / "noaa_weather.csv"
EVERY = "periodic:1"
GENERATED = ("abrupt_concept", "gradual_concept", "covariate_shift", "label_prior", "recurring", "stationary")
STREAMS = ("noaa500", "noaa700", "noaa1000", "story", *GENERATED)
K_GRID = (1, 2, 3, 5)
ROW_BATCHES = (2, 4, 8, 16)
GENERATED_SHAPE = {"batches": 30, "rows": 1500, "change": 10}


def source(name: str, folder: Path) -> tuple[list[str], int]:
    """`cl backtest` arguments that replay stream `name`, and its rows per batch."""
    if name.startswith("noaa"):
        rows = int(name[4:])
        return [str(NOAA), "--target", "rain", "--time", "day", "--batch-rows", str(rows)], rows
    if name == "story":
        from cl_assets.lib import scenario

        return ["--demo"], scenario.DEFAULT_ROWS
    stream = streams.Stream(name, **GENERATED_SHAPE)
    path = folder / f"{name}.csv"
    stream.frame().to_csv(path, index=False)
    spec = stream.spec()
    args = [str(path), "--target", spec.target, "--time", spec.time_column, "--id", spec.id_column]
    return args + ["--slice", "segment", "--batch-rows", str(stream.rows)], stream.rows


def frame_of(name: str) -> tuple[pd.DataFrame, list[str], list[str], str]:
    """The stream as one table in time order: (rows, numeric, categorical, target)."""
    if name.startswith("noaa"):
        data = pd.read_csv(NOAA).sort_values("day", kind="stable")
        numeric = [c for c in data.columns if c not in ("day", "rain")]
        return data, numeric, [], "rain"
    if name == "story":
        from cl_assets.lib import scenario
        from cl_assets.replay import playback

        spec = scenario.spec()
        parts = playback.scenario_batches(scenario.DEFAULT_BATCHES, scenario.DEFAULT_ROWS, scenario.DEFAULT_STREAM_SEED)
        data = pd.concat([b.rows for b in parts], ignore_index=True)
        return data, list(spec.numeric), list(spec.categorical), spec.target
    stream = streams.Stream(name, **GENERATED_SHAPE)
    return stream.frame(), list(streams.NUMERIC), ["segment"], "y"


def naive(name: str, batch_rows: int, every: int, window_rows: int, seed: int = 0) -> dict:
    """fixed:K:ROWS replayed in this process with the loop's timing: batch b lands and is scored by
    the newest model trained by then; its labels arrive with batch b + 1, and a retrain then
    learns every label that arrived (the first model once the first labels exist, then every
    `every` labeled batches). Mean prequential accuracy over the scored batches, and retrains
    (the first model included), as `cl backtest` counts them."""
    data, numeric, categorical, target = frame_of(name)
    cuts = [data.iloc[i : i + batch_rows] for i in range(0, len(data), batch_rows)]
    x = data[numeric + categorical].copy()
    for column in categorical:  # ordinal codes in sorted order, as the loop's OrdinalEncoder gives them
        x[column] = pd.Categorical(x[column], categories=sorted(x[column].dropna().unique())).codes
    xs = [x.iloc[i : i + batch_rows].to_numpy(dtype=float) for i in range(0, len(data), batch_rows)]
    ys = [c[target].to_numpy(dtype=int) for c in cuts]
    from xgboost import XGBClassifier

    model, accuracies, retrains, since = None, [], 0, 0
    for b in range(len(cuts)):
        if model is not None:
            accuracies.append(float(((model.predict_proba(xs[b])[:, 1] >= 0.5) == ys[b]).mean()))
        labeled = b  # labels of batches 0 .. b - 1 have arrived at this tick
        if labeled == 0:
            continue
        since += 1
        if model is None or since >= every:
            rows_x = np.concatenate(xs[:labeled])[-window_rows:]
            rows_y = np.concatenate(ys[:labeled])[-window_rows:]
            if len(np.unique(rows_y)) < 2:
                continue
            model = XGBClassifier(**modeling.NAIVE_PARAMS, tree_method="hist", random_state=seed, n_jobs=2)
            model.fit(rows_x, rows_y)
            retrains, since = retrains + 1, 0
    return {"mean_accuracy": float(np.mean(accuracies)), "retrains": retrains, "accuracy": accuracies}


def backtest(name: str, policies: list[str], jobs: int, home: Path) -> dict:
    args, _ = source(name, home)
    report = home / f"{name}.json"
    cli.main(
        ["backtest", *args, "--policies", ",".join(policies), "--jobs", str(jobs)]
        + ["--home", str(home / name), "--report", str(report), "--baseline", EVERY]
    )
    return json.loads(report.read_text())["policies"]


def grid(rows: int) -> list[tuple[int, int]]:
    return [(k, b * rows) for k in K_GRID for b in ROW_BATCHES]


def judge(name: str, results: dict, fixed: dict[str, dict], policy: str = "auto") -> dict:
    auto, every = results[policy], results[EVERY]
    cheaper = {p: r for p, r in fixed.items() if r["retrains"] <= auto["retrains"]}
    best = max(cheaper, key=lambda p: cheaper[p]["mean_accuracy"]) if cheaper else None
    vs_fixed = 100 * (auto["mean_accuracy"] - cheaper[best]["mean_accuracy"]) if best else None
    vs_every = 100 * (auto["mean_accuracy"] - every["mean_accuracy"])
    share = auto["retrains"] / every["retrains"] if every["retrains"] else None
    met = (vs_fixed is None or vs_fixed >= 0) and vs_every >= -0.5 and share is not None and share <= 1 / 3
    return {
        "stream": name,
        "policy": policy,
        "auto": {k: auto[k] for k in ("mean_accuracy", "retrains")},
        "every_batch": {k: every[k] for k in ("mean_accuracy", "retrains")},
        "best_fixed": None
        if best is None
        else {"policy": best, **{k: cheaper[best][k] for k in ("mean_accuracy", "retrains")}},
        "vs_fixed_points": vs_fixed,
        "vs_every_points": vs_every,
        "retrain_share": share,
        "met": met,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", default=",".join(STREAMS), help=f"comma-separated, of {', '.join(STREAMS)}")
    parser.add_argument("--jobs", type=int, default=2, help="replays side by side")
    parser.add_argument("--fixed-in-backtest", action="store_true", help="replay the naive grid through cl backtest")
    parser.add_argument("--check-naive", help="fixed:K:ROWS to replay both ways on each stream and print side by side")
    parser.add_argument(
        "--also",
        default="",
        help="comma-separated auto:NAME=VALUE policies to replay and judge beside auto (a measurement)",
    )
    parser.add_argument("--report", help="write every stream's figures as JSON here")
    parser.add_argument("--keep", help="replay into this folder and keep it (each policy's state folder, to query)")
    args = parser.parse_args()
    names = [s for s in args.streams.split(",") if s]
    unknown = sorted(set(names) - set(STREAMS))
    if unknown:
        sys.exit(f"unknown streams: {', '.join(unknown)}")
    verdicts = []
    with (
        contextlib.nullcontext(args.keep) if args.keep else tempfile.TemporaryDirectory(prefix="cl-policies-")
    ) as folder:
        for name in names:
            home = Path(folder) / name
            home.mkdir(parents=True)
            _, rows = source(name, home)
            started = time.perf_counter()
            fixed_labels = [f"fixed:{k}:{r}" for k, r in grid(rows)]
            extra = fixed_labels if args.fixed_in_backtest else ([args.check_naive] if args.check_naive else [])
            also = [p for p in args.also.split(",") if p]
            results = backtest(name, ["auto", *also, EVERY, *extra], args.jobs, home)
            if args.fixed_in_backtest:
                fixed = {p: results[p] for p in fixed_labels}
            else:
                fixed = {f"fixed:{k}:{r}": naive(name, rows, k, r) for k, r in grid(rows)}
            if args.check_naive:
                _, k, r = args.check_naive.split(":")
                mine = naive(name, rows, int(k), int(r))
                theirs = results[args.check_naive]
                print(
                    f"check stream={name} policy={args.check_naive} backtest={theirs['mean_accuracy']:.4f}/"
                    f"{theirs['retrains']:g} in_process={mine['mean_accuracy']:.4f}/{mine['retrains']}"
                )
            for policy in ["auto", *also]:
                verdict = judge(name, results, fixed, policy)
                verdict["elapsed_s"] = round(time.perf_counter() - started)
                verdicts.append(verdict)
                _print(verdict)
    print()
    for v in verdicts:
        _print(v)
    met = sum(v["met"] for v in verdicts if v["policy"] == "auto")
    print(f"aims met by auto on {met} of {len(names)} streams")
    if args.report:
        Path(args.report).write_text(json.dumps(verdicts, indent=2) + "\n")


def _print(v: dict) -> None:
    auto, every, best = v["auto"], v["every_batch"], v["best_fixed"]
    naive_text = "none" if best is None else f"{best['policy']} {best['mean_accuracy']:.4f}/{best['retrains']:g}"
    vs_fixed = "n/a" if v["vs_fixed_points"] is None else f"{v['vs_fixed_points']:+.2f}"
    share = "n/a" if v["retrain_share"] is None else f"{v['retrain_share']:.2f}"
    print(
        f"stream={v['stream']} {v['policy']}={auto['mean_accuracy']:.4f}/{auto['retrains']:g} "
        f"every_batch={every['mean_accuracy']:.4f}/{every['retrains']:g} best_naive={naive_text}\n"
        f"aim stream={v['stream']} policy={v['policy']} vs_fixed_points={vs_fixed} vs_every_points={v['vs_every_points']:+.2f} "
        f"retrain_share={share} met={'yes' if v['met'] else 'no'}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
