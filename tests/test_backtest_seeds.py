"""`cl backtest --seeds`: each policy replayed under several base seeds, and compared by its mean.

Four batches of 500 NOAA days, `periodic:1` under seeds 0 and 3, the two replays side by side:
the seed reaches every draw of the loop's runs (recorded in the training set's recipe, the
candidate's tuning and its MLflow run), and the report's figures are those the two state folders
hold, averaged.
"""

import json
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from cl_assets import cli
from cl_assets.lib import warehouse
from cl_assets.settings import SEED_ENV, THREADS_ENV, StatePaths

NOAA = Path(__file__).parent / "data" / "noaa_weather_days_9000_15999.csv"
BATCHES, BATCH_ROWS = 4, 500
SEEDS = [0, 3]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    home = tmp_path_factory.mktemp("seeds")
    history = home / "history.csv"
    pd.read_csv(NOAA).head(BATCHES * BATCH_ROWS).to_csv(history, index=False)
    report = home / "report.json"
    with pytest.MonkeyPatch.context() as env:
        env.setenv(THREADS_ENV, "2")
        env.setenv(SEED_ENV, "5")  # the replays' seeds come from --seeds, whatever the caller's environment says
        cli.main(
            ["backtest", str(history), "--target", "rain", "--time", "day", "--batch-rows", str(BATCH_ROWS)]
            + ["--policies", "periodic:1", "--seeds", ",".join(map(str, SEEDS)), "--jobs", "2"]
            + ["--home", str(home), "--report", str(report)]
        )
    return home, json.loads(report.read_text())


def _folder(home: Path, seed: int) -> StatePaths:
    return StatePaths(home / "backtest" / "periodic-1" / f"seed-{seed}")


def test_every_draw_of_a_replay_is_from_its_seed(seeded):
    home, _ = seeded
    holdouts = []
    for seed in SEEDS:
        paths = _folder(home, seed)
        with warehouse.connect(paths.warehouse, read_only=True) as con:
            recipes = [json.loads(r) for (r,) in con.execute("select recipe from training_set_versions").fetchall()]
            candidates = warehouse.fetch_records(con, "select mlflow_run_id, tuning from candidate_models")
            holdout = "select entity_id from training_sets where version = 1 and split = 'holdout'"
            holdouts.append({i for (i,) in con.execute(holdout).fetchall()})
        assert recipes and {r["seed"] for r in recipes} == {seed}
        assert candidates and {json.loads(c["tuning"])["seed"] for c in candidates} == {seed}
        client = MlflowClient(paths.mlflow_tracking_uri)
        assert {client.get_run(c["mlflow_run_id"]).data.params["seed"] for c in candidates} == {str(seed)}
    assert holdouts[0] and holdouts[1] and holdouts[0] != holdouts[1]  # another seed, another holdout draw


def test_the_report_is_the_mean_of_what_each_seed_scored(seeded):
    home, report = seeded
    assert report["seeds"] == SEEDS
    every = report["policies"]["periodic:1"]
    assert list(every["by_seed"]) == [str(s) for s in SEEDS]
    for seed in SEEDS:
        with warehouse.connect(_folder(home, seed).warehouse, read_only=True) as con:
            scored = dict(
                con.execute(
                    "select p.batch_id, avg((p.predicted = l.label)::int) from predictions p "
                    "join labels l using (batch_id, entity_id) group by all"
                ).fetchall()
            )
        own = every["by_seed"][str(seed)]
        assert [a for a in own["accuracy"] if a is not None] == pytest.approx([scored[b] for b in sorted(scored)])
        assert own["mean_accuracy"] == pytest.approx(sum(scored.values()) / len(scored))
    runs = [every["by_seed"][str(s)] for s in SEEDS]
    assert every["mean_accuracy"] == pytest.approx(sum(r["mean_accuracy"] for r in runs) / len(runs))
    assert every["retrains"] == pytest.approx(sum(r["retrains"] for r in runs) / len(runs))
    assert every["vs_baseline"]["gap_by_seed_points"] == {str(s): 0.0 for s in SEEDS}


def test_bad_seeds_are_refused_before_anything_runs(tmp_path):
    for bad, says in [("0,x", "whole numbers >= 0"), ("1,1", "names a seed twice"), ("", "whole numbers >= 0")]:
        with pytest.raises(SystemExit, match=says):
            cli.main(
                ["backtest", str(NOAA), "--target", "rain", "--time", "day", "--seeds", bad, "--home", str(tmp_path)]
            )
    assert not (tmp_path / "backtest").exists()
