"""What a retrain's recipe is worth on NOAA, one part at a time: retrain after every labeled batch
and score the next one (the loop's timing), under recipe variants.

Variants (comma-separated with --variants):
- `rowsN`: XGBoost's fixed parameters (modeling.NAIVE_PARAMS) on the newest N rows;
- `rowsN_holdout`: the same without a holdout of 30% of the newest two batches' rows (what the
  gate judges on when the model is not refitted with its holdout);
- `tunedN`, `tunedN_holdout`: the same rows, parameters searched by lib/tuning (hyperopt, --trials
  trials, warm-started from the defaults and the previous search);
- `chosen`: the window lib/windows chooses on the newest labeled batch, fixed parameters.

Prints one JSON line per variant: mean prequential accuracy over the scored batches, the standard
deviation of the batch accuracies, and, for `chosen`, how often each window was chosen.

    uv run python benchmarks/recipe.py [--batch-rows 500] [--variants rows4000,rows4000_holdout]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cl_assets.lib import modeling, tuning, windows
from cl_assets.lib.dataset import DatasetSpec

NOAA = Path(__file__).parent / "data" / "noaa_weather.csv"
HOLDOUT_FRACTION, HOLDOUT_BATCHES = 0.3, 2  # the training set's defaults (lib/composition.Recipe)


def load(batch_rows: int) -> tuple[pd.DataFrame, DatasetSpec]:
    data = pd.read_csv(NOAA).sort_values("day", kind="stable").reset_index(drop=True)
    numeric = [c for c in data.columns if c not in ("day", "rain")]
    spec = DatasetSpec(name="noaa", target="rain", id_column="day", numeric=numeric)
    data["label"] = data["rain"].astype(int)
    data["batch"] = data.index // batch_rows
    data["batch_id"] = data["batch"].map(lambda b: f"b{b:04d}")
    return data, spec


def replay(data: pd.DataFrame, spec: DatasetSpec, variant: str, batch_rows: int, trials: int) -> dict:
    model, accuracies, chosen, searched = None, [], [], None
    started = time.perf_counter()
    for b in range(int(data["batch"].max()) + 1):
        batch = data[data["batch"] == b]
        if model is not None:
            accuracies.append(float(((modeling.scores(model, batch, spec) >= 0.5) == batch["label"]).mean()))
        if b == 0:
            continue
        labeled = data[data["batch"] < b].assign(recency=lambda f, b=b: b - f["batch"])
        params = modeling.NAIVE_PARAMS
        if variant == "chosen":
            history, newest = windows.split_newest(labeled)
            best = windows.choose(windows.validate(history, newest, spec, params))
            chosen.append(best.window.name)
            rows = newest.assign(weight=1.0) if best.window.batches == 0 else best.window.rows(labeled)
        else:
            kind, _, holdout = variant.partition("_")
            window_rows = int(kind.removeprefix("rows").removeprefix("tuned"))
            rows = labeled[labeled["recency"] <= max(1, window_rows // batch_rows)].assign(weight=1.0)
            if holdout:
                recent = (rows["recency"] <= HOLDOUT_BATCHES).to_numpy()
                held = recent & (np.random.default_rng(b).random(len(rows)) < HOLDOUT_FRACTION)
                rows = rows[~held]
            if kind.startswith("tuned"):
                warm = [modeling.DEFAULT_PARAMS] + ([searched] if searched else [])
                result = tuning.tune(
                    modeling.encoded(rows, spec),
                    rows["label"].to_numpy(),
                    budget=tuning.Budget(max_trials=trials, max_seconds=60),
                    seed=b,
                    warm_start=warm,
                )
                params = searched = tuning.final_params(result)
        model = modeling.fit(rows, spec, params, weight=rows["weight"], n_jobs=2)
    return {
        "variant": variant,
        "batch_rows": batch_rows,
        "scored_batches": len(accuracies),
        "mean_accuracy": round(float(np.mean(accuracies)), 4),
        "batch_accuracy_sd": round(float(np.std(accuracies, ddof=1)), 4),
        "seconds": round(time.perf_counter() - started, 1),
        "windows_chosen": pd.Series(chosen).value_counts().to_dict() if chosen else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-rows", type=int, default=500, help="days per batch")
    parser.add_argument(
        "--variants",
        default="rows4000,rows4000_holdout,tuned4000,tuned4000_holdout,chosen,rows2000,rows8000",
        help="comma-separated, of rowsN, rowsN_holdout, tunedN, tunedN_holdout, chosen",
    )
    parser.add_argument("--trials", type=int, default=12, help="hyperopt trials per tuned retrain")
    args = parser.parse_args()
    data, spec = load(args.batch_rows)
    for variant in args.variants.split(","):
        print(json.dumps(replay(data, spec, variant, args.batch_rows, args.trials)), flush=True)


if __name__ == "__main__":
    main()
