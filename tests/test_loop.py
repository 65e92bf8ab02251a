"""The whole loop, in-process, over the compressed story: what a user of `cl demo` relies on."""

import json
import shutil

import dagster as dg
from mlflow import MlflowClient

from cl_assets import playback
from cl_assets.defs import build_defs
from cl_assets.lib import registry, warehouse
from cl_assets.settings import StatePaths


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
            assert batch["refit_check_passed"] in (True, False, None)  # None: nothing before it to refit on
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


def test_a_retrain_for_performance_decay_learns_from_the_decayed_batch_on(story_run):
    """After the concept drift the champion's accuracy decays; a retrain that decay triggered (with
    no drift beside it) learns only from the batch whose labels showed it onward (restart_on_decay;
    the window chosen by validation may start there anyway), where the old concept is what the
    champion failed on. While the champion learned from such a window, later retrains reach no
    further back than its floor (`window_floor`)."""
    sets = story_run.sql(
        "select v.version, v.batches, v.recipe, v.restarted_at, v.window_floor, t.kind, t.batch_id, "
        "f.window_floor as champion_floor from training_set_versions v join retrain_triggers t using (trigger_id) "
        "left join candidate_models c on c.model_version = v.champion_version "
        "left join training_set_versions f on f.version = c.training_set_version order by v.version"
    )
    decayed = [s for s in sets if "performance_check" in s["kind"].split("+") and "drift_check" not in s["kind"]]
    assert decayed, [s["kind"] for s in sets]
    for s in sets:
        batches = json.loads(s["batches"])
        if s in decayed:  # the window starts at the decayed batch (restarted there unless it did anyway)
            assert s["window_floor"] == s["batch_id"] <= min(batches), s
            assert s["restarted_at"] in (None, s["batch_id"]), s
        else:  # the champion's floor, if any, bounds the window
            assert s["restarted_at"] is None and s["window_floor"] == s["champion_floor"], s
            assert not s["window_floor"] or s["window_floor"] <= min(batches), s


def test_a_later_retrain_reaches_no_further_back_than_the_champions_restart(story_run, tmp_path):
    """The story's last champion learned a window restarted on decay. A retrain after it, here one
    a person launches with window 'all' (as from the UI's launchpad, on a copy of the state
    folder), learns from that restart on: the concept before it stays out, and the set says why."""
    paths = StatePaths.resolve(shutil.copytree(story_run.paths.home, tmp_path / "copy"))
    (champion,) = story_run.sql(
        "select c.model_version, v.window_floor, v.restarted_at from champion_history c "
        "join training_set_versions v on v.version = c.training_set_version order by c.promoted_at desc limit 1"
    )
    assert champion["window_floor"], champion
    result = (
        build_defs(paths)
        .resolve_job_def("retrain_job")
        .execute_in_process(
            instance=playback.instance_for(paths),
            asset_selection=[dg.AssetKey("retrain_trigger"), dg.AssetKey("training_set")],
            run_config={"ops": {"training_set": {"config": {"window": "all"}}}},
        )
    )
    (materialized,) = result.asset_materializations_for_node("training_set")
    with warehouse.connect(paths.warehouse, read_only=True) as con:
        (new,) = warehouse.fetch_records(con, "select * from training_set_versions order by version desc limit 1")
        labeled = [b for (b,) in con.execute("select distinct batch_id from labels order by 1").fetchall()]
    batches = json.loads(new["batches"])
    assert new["champion_version"] == champion["model_version"] and new["restarted_at"] is None
    assert new["window_floor"] == champion["window_floor"] == batches[0] != labeled[0]
    assert batches == [b for b in labeled if b >= champion["window_floor"]]
    assert materialized.metadata["window_floor"].value == champion["window_floor"]


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
    assert set(report) == {"batches", "summary"}
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
