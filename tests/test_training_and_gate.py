"""Training sets, tuning and the gate in the loop, checked against MLflow, Dagster and DuckDB."""

import json

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from scipy.stats import norm
from sklearn.metrics import log_loss

from cl_assets.lib import composition, gate, modeling, paired, registry, scenario, tuning, warehouse, windows
from cl_assets.lib.warehouse import query


def candidates(run) -> list[dict]:
    return run.sql("select * from candidate_models order by model_version")


def test_every_training_set_records_its_recipe_and_counts(story_run):
    sets = story_run.sql("select * from training_set_versions order by version")
    assert sets
    for s in sets:
        recipe, choice = json.loads(s["recipe"]), json.loads(s["window_choice"])
        assert recipe["window"] in ("last", "all", "sliding") and recipe["restart_on_decay"] is False
        # the window chosen by validation (tests/unit/test_refit.py), recorded with its candidates
        window = next(w for w in windows.CANDIDATES if w.name == choice["chosen"])
        assert recipe["window"] == window.recipe(composition.Recipe(), 99).window or s["restarted_at"], (recipe, choice)
        if choice["candidates"]:
            best = min(c["log_loss"] for c in choice["candidates"])
            (mine,) = [c for c in choice["candidates"] if c["window_name"] == choice["chosen"]]
            assert mine["log_loss"] <= best + windows.TIE and choice["validated_on"] == max(json.loads(s["batches"]))
        rows = story_run.sql(
            "select split, count(*) as n, count(distinct entity_id) as ids, min(weight) as lo, max(weight) as hi "
            "from training_sets where version = ? group by split",
            [s["version"]],
        )
        by_split = {r["split"]: r for r in rows}
        assert by_split["train"]["n"] == s["rows_train"] and by_split["holdout"]["n"] == s["rows_holdout"]
        assert all(r["n"] == r["ids"] for r in rows)  # one row per id: duplicates removed
        if recipe["window"] != "sliding":
            assert all(r["lo"] == r["hi"] == 1.0 for r in rows)  # 'last' and 'all' weigh every row 1
    events = story_run.instance.fetch_materializations(dg.AssetKey("training_set"), limit=1).records
    metadata = events[0].asset_materialization.metadata
    assert {"recipe", "window_choice", "rows_by_slice", "rows_by_batch", "short_slices", "restarted_at"} <= set(
        metadata
    )


def test_every_candidate_is_tuned_and_each_trial_is_a_nested_mlflow_run(story_run):
    client = MlflowClient(story_run.paths.mlflow_tracking_uri)
    for candidate in candidates(story_run):
        summary = json.loads(candidate["tuning"])
        trials = story_run.sql(
            "select * from tuning_trials where model_version = ? order by trial", [candidate["model_version"]]
        )
        assert len(trials) == summary["trials"] >= 1
        best = min(trials, key=lambda t: t["validation_log_loss"])
        assert best["trial"] == summary["best_trial"]
        assert json.loads(best["params"]) == json.loads(candidate["params"])
        nested = client.search_runs(
            [client.get_run(candidate["mlflow_run_id"]).info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{candidate['mlflow_run_id']}'",
        )
        assert sorted(r.info.run_id for r in nested) == sorted(t["mlflow_run_id"] for t in trials)
        for run in nested:
            assert {"validation_log_loss", "seconds", "peak_mb", "threads"} <= set(run.data.metrics)
            assert set(tuning.SPACE) | {"n_estimators"} <= set(run.data.params)
            assert run.data.tags["cl.trigger_id"] == candidate["trigger_id"]
        parent = client.get_run(candidate["mlflow_run_id"])
        assert parent.data.tags["dagster_run_id"] == candidate["dagster_run_id"]
        assert parent.data.tags["cl.training_set_version"] == str(candidate["training_set_version"])


def test_the_search_is_warm_started_from_the_previous_candidate(story_run):
    found = candidates(story_run)
    assert len(found) >= 2
    for earlier, later in zip(found, found[1:], strict=False):
        (first,) = story_run.sql(
            "select * from tuning_trials where model_version = ? and trial = 1", [later["model_version"]]
        )
        assert first["warm_start"]
        tried, before = json.loads(first["params"]), json.loads(earlier["params"])
        for name in tuning.SPACE:
            assert tried[name] == pytest.approx(before[name], rel=1e-6), name


def test_candidate_and_champion_are_judged_on_the_same_rows_with_every_rule_recorded(story_run):
    decisions = story_run.sql("select * from gate_decisions where champion_version is not null")
    assert decisions
    for d in decisions:
        rows = story_run.sql(
            "select eval_set, slice, model_role, rows from evaluation_reports where report_id = ?", [d["report_id"]]
        )
        by_role = {}
        for r in rows:
            by_role.setdefault(r["model_role"], {})[(r["eval_set"], r["slice"])] = r["rows"]
        assert by_role["candidate"] == by_role["champion"]
        assert {e for e, _ in by_role["candidate"]} >= {gate.HOLDOUT, gate.NEWEST}
        rules = story_run.sql("select * from gate_rules where report_id = ?", [d["report_id"]])
        assert {r["gate_check"] for r in rules} >= {gate.VALUE, gate.CHANGE}
        failed = [r["message"] for r in rules if not r["passed"]]
        assert not (failed and d["passed"])  # a failed rule always fails the gate, and is one of its reasons
        assert set(failed) <= set(json.loads(d["reasons"]))
        assert d["plot_png"][:8] == b"\x89PNG\r\n\x1a\n"


def test_the_gate_checks_are_blocking_check_results_in_dagster(story_run):
    for name in gate.CHECKS:
        key = dg.AssetCheckKey(dg.AssetKey("evaluation_report"), name)
        history = story_run.instance.event_log_storage.get_asset_check_execution_history(key, limit=50)
        assert len(history) == len(story_run.sql("select * from gate_decisions"))


def test_the_gate_judges_the_model_before_its_refit_and_the_registered_one_learned_the_holdout(story_run):
    spec = scenario.spec()
    decisions = story_run.sql("select * from gate_decisions")
    assert decisions
    for d in decisions:
        (cand,) = story_run.sql("select * from candidate_models where model_version = ?", [d["candidate_version"]])
        assert cand["refit_with_holdout"]
        frame = pd.DataFrame(
            story_run.sql(
                "select t.*, s.score as judged from training_sets as t join holdout_scores as s "
                "on s.entity_id = t.entity_id and s.model_version = ? "
                "where t.version = ? and t.split = 'holdout' and t.copy = 0",
                [cand["model_version"], cand["training_set_version"]],
            )
        )
        (composed,) = story_run.sql(
            "select rows_holdout from training_set_versions where version = ?", [cand["training_set_version"]]
        )
        assert len(frame) == composed["rows_holdout"] > 0
        # the registered model learned its holdout: its scores there are not the judged model's
        model = registry.load(story_run.paths.mlflow_tracking_uri, cand["registered_model"], cand["model_version"])
        assert np.abs(modeling.scores(model, frame, spec) - frame["judged"].to_numpy()).max() > 1e-3
        # the gate's holdout figures are the judged model's, on the rows the champion did not learn
        learned = set()
        if d["champion_version"] is not None:
            (champion,) = story_run.sql(
                "select training_set_version from candidate_models where model_version = ?", [d["champion_version"]]
            )
            with warehouse.connect(story_run.paths.warehouse, read_only=True) as con:
                rows = con.execute(query("learned_ids"), {"version": champion["training_set_version"]}).fetchall()
            learned = {entity_id for (entity_id,) in rows}
            everything = story_run.sql(
                "select count(distinct entity_id) as n from training_sets where version = ?",
                [champion["training_set_version"]],
            )
            assert len(learned) == everything[0]["n"]  # a refitted champion learned its holdout too
        judged = frame[~frame["entity_id"].isin(learned)]
        (reported,) = story_run.sql(
            "select rows, log_loss from evaluation_reports where report_id = ? and model_role = 'candidate' "
            "and eval_set = 'holdout' and slice = '__overall__'",
            [d["report_id"]],
        )
        assert reported["rows"] == len(judged)
        expected = log_loss(judged["label"].astype(int), judged["judged"].clip(1e-7, 1 - 1e-7), labels=[0, 1])
        assert reported["log_loss"] == pytest.approx(expected, abs=1e-9)
        if d["champion_version"] is None:
            continue
        # the change rules' standard errors are the paired differences' on these same rows
        (theirs,) = story_run.sql("select * from candidate_models where model_version = ?", [d["champion_version"]])
        champion_model = registry.load(
            story_run.paths.mlflow_tracking_uri, theirs["registered_model"], theirs["model_version"]
        )
        champion_scores = modeling.scores(champion_model, judged, spec)
        (auc_rule,) = story_run.sql(
            "select * from gate_rules where report_id = ? and gate_check = 'change_thresholds' "
            "and eval_set = 'holdout' and slice = '__overall__' and metric = 'roc_auc'",
            [d["report_id"]],
        )
        se = paired.auc_difference_se(judged["label"].astype(int), judged["judged"], champion_scores)
        assert auc_rule["std_error"] == pytest.approx(se, rel=1e-9) and se > 0
        margin = norm.ppf(0.95) * se  # the default PromotionGate.change_confidence
        assert auc_rule["passed"] == (auc_rule["candidate"] + margin >= auc_rule["champion"] - auc_rule["threshold"])
