"""The whole loop, in-process, over the compressed story: what a user of `cl demo` relies on."""

import json

import dagster as dg
from mlflow import MlflowClient

from cl_assets.lib import registry


def retrain_runs(run, **tags) -> list[dg.DagsterRun]:
    return list(run.instance.get_runs(filters=dg.RunsFilter(job_name="retrain_job", tags=tags)))


def test_stationary_batches_pass_the_drift_check(story_run):
    scored = [story_run.batch(i) for i in range(story_run.story.covariate_shift) if story_run.batch(i)["drift"]]
    assert scored, "no batch before the covariate shift was scored"
    assert all(b["drift_check_passed"] for b in scored), [(b["batch_id"], b["drifted_features"]) for b in scored]


def test_covariate_shift_fails_the_drift_check_naming_the_shifted_features(story_run):
    shifted = story_run.batch(story_run.story.covariate_shift)
    assert shifted["drift_check_passed"] is False
    assert {"monthly_spend", "sessions_last_week"} <= set(shifted["drifted_features"])
    assert shifted["drift"]["monthly_spend"]["method"] == "ks"
    assert shifted["drift"]["monthly_spend"]["p_value"] < 1e-6


def test_a_new_category_is_drift_and_a_warning_not_a_rejection(story_run):
    batch = story_run.batch(story_run.story.new_category)
    assert batch["validation_passed"] is True
    assert "channel" in batch["drifted_features"]
    warned = story_run.sql(
        "select * from validation_results where batch_id = ? and column_name = 'channel' and not success",
        [batch["batch_id"]],
    )
    assert [w["severity"] for w in warned] == ["warning"]


def test_a_drift_failure_is_an_alert_recorded_with_its_evidence(story_run):
    shift = story_run.batch(story_run.story.covariate_shift)["batch_id"]
    (check,) = story_run.sql("select * from check_results where check_name = 'drift_check' and batch_id = ?", [shift])
    assert check["passed"] is False and "monthly_spend" in json.loads(check["evidence"])
    assert "monthly_spend" in check["description"]


def test_failures_that_do_not_retrain_are_held_visibly_with_their_rule(story_run):
    held = story_run.instance.fetch_observations(dg.AssetKey("retrain_trigger"), limit=200).records
    rules = {r.asset_observation.metadata["rule"].value for r in held}
    assert {"not_a_trigger", "same_incident"} <= rules, rules
    for record in held:
        meta = record.asset_observation.metadata
        assert meta["batch_id"].value and meta["reason"].value.startswith(meta["check"].value)


def test_the_report_carries_every_monitoring_verdict_and_the_estimates(story_run):
    for batch in story_run.report["batches"]:
        scored = batch["drift_check_passed"] is not None
        assert (batch["estimated_accuracy"] is not None) == scored, batch["batch_id"]
        if batch["metrics"] is not None:
            assert batch["performance_check_passed"] in (True, False)
            assert batch["refit_check_passed"] in (True, False)  # it runs, refitted or not, on every labeled batch
            assert batch["estimated_performance_check_passed"] in (True, False)
            assert 0 < batch["estimated_accuracy"] < 1
    checks = {(r["check_name"], r["batch_id"]): r["passed"] for r in story_run.sql("select * from check_results")}
    for batch in story_run.report["batches"]:
        assert batch["performance_check_passed"] == checks.get(("performance_check", batch["batch_id"]))


def test_the_first_model_is_a_bootstrap_promotion(story_run):
    first = story_run.sql("select * from champion_history order by promoted_at limit 1")[0]
    assert first["previous_version"] is None and first["reason"] == "first model"
    (trigger,) = story_run.sql("select * from retrain_triggers where trigger_id = ?", [first["trigger_id"]])
    assert trigger["kind"] == "bootstrap"


def test_the_champion_changes_only_through_a_passing_gate(story_run):
    promoted = story_run.sql(
        "select c.model_version, g.passed from champion_history c join gate_decisions g using (report_id)"
    )
    assert promoted and all(p["passed"] for p in promoted)
    rejected = {r["candidate_version"] for r in story_run.sql("select * from gate_decisions where not passed")}
    assert rejected.isdisjoint({p["model_version"] for p in promoted})
    history = story_run.sql("select count(*) as n from champion_history")[0]["n"]
    gates = story_run.sql("select count(*) as n from gate_decisions where passed")[0]["n"]
    assert history == gates
    for version in rejected:  # a rejected candidate's run stopped at the gate
        (row,) = story_run.sql("select dagster_run_id from candidate_models where model_version = ?", [version])
        assert story_run.instance.get_run_by_id(row["dagster_run_id"]).status == dg.DagsterRunStatus.FAILURE
    latest = story_run.sql("select model_version from champion_history order by promoted_at desc limit 1")[0]
    alias = MlflowClient(story_run.paths.mlflow_tracking_uri).get_model_version_by_alias("cl_model", registry.CHAMPION)
    assert int(alias.version) == latest["model_version"]


def test_accuracy_recovers_once_a_model_trained_after_the_concept_drift_is_champion(story_run):
    drift = story_run.story.concept_drift
    hit = [story_run.batch(i)["metrics"]["accuracy"] for i in (drift, drift + 1)]
    end = [b["metrics"]["accuracy"] for b in story_run.report["batches"][-2:]]
    before = [story_run.batch(i)["metrics"]["accuracy"] for i in (drift - 2, drift - 1)]
    assert min(before) - min(hit) >= 0.05, (before, hit)
    assert sum(end) / 2 >= min(hit) + 0.1, (hit, end)
    latest = story_run.sql(
        "select t.batches from champion_history c join training_set_versions t on t.version = c.training_set_version "
        "order by c.promoted_at desc limit 1"
    )[0]
    assert max(json.loads(latest["batches"])) >= f"batch_{drift:04d}"


def test_by_default_no_window_is_cut_at_a_decay_and_the_chosen_one_follows_the_change(story_run):
    """restart_on_decay is off by default: the window chosen by validation starts after the concept
    drift by itself. The first retrain whose labels include the drift learns no batch before it."""
    sets = story_run.sql(
        "select v.batches, v.restarted_at, v.window_floor, v.window_choice from training_set_versions v order by version"
    )
    assert all(s["restarted_at"] is None and s["window_floor"] is None for s in sets)
    drift = f"batch_{story_run.story.concept_drift:04d}"
    after = [s for s in sets if max(json.loads(s["batches"])) >= drift]
    assert after and min(json.loads(after[0]["batches"])) >= drift, after[0]


def test_metrics_are_prequential(story_run):
    for batch in story_run.report["batches"]:
        if batch["metrics"] is None:
            continue
        (row,) = story_run.sql(
            "select max(p.scored_at) as scored, min(l.arrived_at) as labeled, any_value(p.model_version) as version "
            "from predictions p join labels l using (batch_id, entity_id) where batch_id = ?",
            [batch["batch_id"]],
        )
        assert row["scored"] < row["labeled"]
        (trained_on,) = story_run.sql(
            "select t.batches from candidate_models c join training_set_versions t on t.version = c.training_set_version "
            "where c.model_version = ?",
            [row["version"]],
        )
        assert batch["batch_id"] not in json.loads(trained_on["batches"])


def test_every_candidate_is_an_mlflow_run_tagged_with_its_dagster_run(story_run):
    client = MlflowClient(story_run.paths.mlflow_tracking_uri)
    candidates = story_run.sql("select * from candidate_models")
    assert (
        len(candidates)
        == len(retrain_runs(story_run))
        - story_run.sql("select count(*) as n from retrain_triggers where model_version is null")[0]["n"]
    )
    for c in candidates:
        run = client.get_run(c["mlflow_run_id"])
        assert run.data.tags["dagster_run_id"] == c["dagster_run_id"]
        assert run.data.tags["cl.trigger_id"] == c["trigger_id"]
        assert run.info.status == "FINISHED"
        assert run.info.artifact_uri.startswith(story_run.paths.mlflow_artifacts.as_uri())


def test_schedule_and_automation_launch_runs_too(story_run):
    scheduled = retrain_runs(story_run, **{"dagster/schedule_name": "periodic_retrain_schedule"})
    assert len(scheduled) == 1 and scheduled[0].tags["cl/trigger_kind"] == "schedule"
    automated = story_run.instance.get_runs(filters=dg.RunsFilter(tags={"dagster/from_automation_condition": "true"}))
    scored = [b for b in story_run.report["batches"] if b["metrics"] is not None]
    assert len(automated) == len(scored)


def test_the_report_has_the_documented_shape(story_run):
    report = json.loads((story_run.paths.home / "report.json").read_text())
    assert set(report) == {"batches", "failed_runs", "summary"} and report["failed_runs"] == []
    assert set(report["summary"]) == {"batches", "retrains", "mean_accuracy", "mean_roc_auc", "elapsed_s"}
    keys = {
        "batch_id",
        "rows",
        "validation_passed",
        "drift_check_passed",
        "drifted_features",
        "drift",
        "metrics",
        "retrain_triggered",
        "trigger_reason",
        "champion_version",
        "estimated_accuracy",
        "estimated_roc_auc",
        "estimated_performance_check_passed",
        "performance_check_passed",
        "refit_check_passed",
    }
    assert all(set(b) == keys for b in report["batches"])
    assert report["summary"]["retrains"] == sum(b["retrain_triggered"] for b in report["batches"])


def test_the_retrain_sensor_reads_every_evaluation_whatever_the_page_size(story_run, monkeypatch):
    from cl_assets.defs.triggers import sensors

    whole, after = sensors._evaluations(story_run.instance, 0, set())
    monitored = [b for b in story_run.report["batches"] if b["drift"]]
    scored = [b for b in story_run.report["batches"] if b["metrics"]]
    assert [e.check for e in whole].count("drift_check") == len(monitored)
    assert [e.check for e in whole].count("performance_check") == len(scored)
    assert after >= max(e.id for e in whole)  # every run finished: nothing holds the cursor back
    monkeypatch.setattr(sensors, "PAGE", 2)
    assert sensors._evaluations(story_run.instance, 0, set()) == (whole, after)
    later = [e for e in whole if e.id > whole[5].id and e.id not in {whole[7].id}]
    assert sensors._evaluations(story_run.instance, whole[5].id, {whole[7].id})[0] == later
