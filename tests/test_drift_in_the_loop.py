"""Drift monitoring inside the running loop: the reference profile, per-slice root cause, the
drift report, concept and target drift, and accepting drift as an audited re-baseline."""

import json

import dagster as dg
import pytest

from cl_assets import cli
from cl_assets.defs import build_defs
from cl_assets.lib import drift, scenario
from cl_assets.replay import playback
from tests.conftest import SHORT_ROWS, LoopRun, play_quietly

PNG = b"\x89PNG\r\n\x1a\n"


def test_each_promotion_profiles_the_champions_training_window_once(story_run: LoopRun):
    promotions = story_run.sql("select model_version, training_set_version from champion_history order by promoted_at")
    baselines = story_run.sql("select * from reference_baselines order by profile_id")
    assert [b["model_version"] for b in baselines] == [p["model_version"] for p in promotions]
    assert {b["source"] for b in baselines} == {"champion"}
    for baseline, promotion in zip(baselines, promotions, strict=True):
        trained_on = story_run.sql(
            "select distinct batch_id from training_sets where version = ? order by 1",
            [promotion["training_set_version"]],
        )
        assert json.loads(baseline["batches"]) == [r["batch_id"] for r in trained_on]
    # the stored sorted values are the training window's, column by column
    last = baselines[-1]
    counts = story_run.sql(
        "select count(*) as n from reference_values where profile_id = ? and slice = '*' and feature = 'age'",
        [last["profile_id"]],
    )[0]["n"]
    assert counts == last["rows"]


def test_drift_is_measured_against_the_profile_current_when_the_batch_was_scored(story_run: LoopRun):
    rows = story_run.sql(
        "select d.batch_id, d.profile_id, d.reference_version, p.model_version from drift_metrics d "
        "join (select distinct batch_id, model_version from predictions) p using (batch_id) where d.slice = '*'"
    )
    assert rows
    assert all(r["reference_version"] == r["model_version"] for r in rows)


def test_covariate_shift_shows_every_statistic_and_the_slices_it_moved_in(story_run: LoopRun):
    batch = f"batch_{story_run.story.covariate_shift + 1:04d}"
    rows = story_run.sql("select * from drift_metrics where batch_id = ?", [batch])
    overall = {r["feature"]: r for r in rows if r["slice"] == drift.ALL}
    spend = overall["monthly_spend"]
    assert spend["drifted"] and spend["method"] == "ks"
    assert spend["wasserstein"] > 0 and 0 < spend["js"] <= 1 and spend["psi"] >= spend["threshold"]
    assert spend["p_value"] < spend["alpha_corrected"]
    region = overall["region"]
    assert region["method"] == "chi2" and region["linf"] is not None and region["unseen_share"] == 0
    assert overall[drift.TABLE]["kind"] == "multivariate" and overall[drift.TABLE]["drifted"]
    slices = {r["slice"] for r in rows} - {drift.ALL}
    assert slices == set(scenario.REGIONS)
    # a shift applied to every region shows up inside each region too
    moved = {r["slice"] for r in rows if r["feature"] == "monthly_spend" and r["slice"] != drift.ALL and r["drifted"]}
    assert moved == slices


def test_a_new_category_counts_as_unseen_share(story_run: LoopRun):
    batch = f"batch_{story_run.story.new_category + 1:04d}"
    channel = story_run.sql(
        "select * from drift_metrics where batch_id = ? and slice = '*' and feature = 'channel'", [batch]
    )[0]
    assert channel["unseen_share"] > 0.05 and channel["drifted"]


def test_every_scored_batch_has_a_drift_report_with_table_and_plot(story_run: LoopRun):
    reports = story_run.sql("select * from drift_reports order by batch_id")
    scored = story_run.sql("select distinct batch_id from drift_metrics order by 1")
    assert [r["batch_id"] for r in reports] == [r["batch_id"] for r in scored]
    shifted = next(r for r in reports if r["batch_id"] == f"batch_{story_run.story.covariate_shift + 1:04d}")
    assert shifted["drifted"] and bytes(shifted["plot_png"]).startswith(PNG)
    assert "monthly_spend" in shifted["markdown"] and "By slice" in shifted["markdown"]
    event = story_run.instance.get_latest_materialization_event(dg.AssetKey("drift_report"))
    text = event.asset_materialization.metadata["report"].value
    assert "data:image/png;base64," in text


def test_concept_drift_is_judged_against_an_uncertainty_band(story_run: LoopRun):
    rows = story_run.sql(
        "select * from batch_performance where slice = '__overall__' and reference_accuracy is not null order by batch_id"
    )
    assert rows
    for r in rows:
        assert r["accuracy_band_low"] < r["reference_accuracy"]
        assert r["roc_auc_band_low"] < r["reference_roc_auc"]
        assert 0 <= r["target_drift_p_value"] <= 1
    # the label prior change moves the label rate away from the reference's
    prior = [r for r in rows if r["batch_id"] == f"batch_{story_run.story.label_prior:04d}"]
    assert prior and prior[0]["target_drift_p_value"] < 0.01


@pytest.fixture(scope="module")
def drifted_home(tmp_path_factory):
    """A short loop that ends two batches into the covariate shift, under the `never` policy
    (no retrain moves the reference), so the last batches drift against the first champion."""
    story = scenario.Story(covariate_shift=4, new_category=50, label_prior=50, concept_drift=50)
    return play_quietly(tmp_path_factory, "accept", 7, SHORT_ROWS // 2, seed=3, story=story, policy={"mode": "never"})


def _redo_drift(paths, batch_id: str) -> None:
    defs = build_defs(paths)
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=playback.instance_for(paths), asset_selection=[dg.AssetKey("drift_metrics")], partition_key=batch_id
    )
    assert result.success


def _overall(paths, batch_id: str) -> dict:
    from cl_assets.lib import warehouse

    with warehouse.connect(paths.warehouse, read_only=True) as con:
        rows = warehouse.fetch_records(
            con, "select * from drift_metrics where batch_id = ? and slice = '*'", [batch_id]
        )
    return {r["feature"]: r for r in rows}


def test_accepting_drift_rebaselines_without_retraining_and_is_audited(drifted_home, capsys):
    from cl_assets.lib import warehouse

    paths = drifted_home
    last = "batch_0006"
    before = _overall(paths, last)
    assert before["monthly_spend"]["drifted"]
    with warehouse.connect(paths.warehouse, read_only=True) as con:
        models_before = warehouse.fetch_records(con, "select model_version from candidate_models")
        profile_before = warehouse.fetch_records(con, "select max(profile_id) as p from reference_baselines")[0]["p"]
    cli.main(
        [
            "accept-drift",
            "--reason",
            "spend rose after the price change",
            "--by",
            "alice",
            "--batches",
            "2",
            "--home",
            str(paths.home),
        ]
    )
    assert "accepted by alice" in capsys.readouterr().out
    with warehouse.connect(paths.warehouse, read_only=True) as con:
        baseline = warehouse.fetch_records(con, "select * from reference_baselines order by profile_id desc limit 1")[0]
        models_after = warehouse.fetch_records(con, "select model_version from candidate_models")
    assert baseline["profile_id"] == profile_before + 1
    assert baseline["source"] == "accepted_drift" and baseline["accepted_by"] == "alice"
    assert baseline["reason"] == "spend rose after the price change"
    assert json.loads(baseline["batches"]) == ["batch_0005", "batch_0006"]
    assert models_after == models_before  # nothing was retrained
    run = playback.instance_for(paths).get_run_by_id(baseline["dagster_run_id"])
    assert run.tags["cl/accepted_by"] == "alice"
    # measured again, the accepted batch no longer drifts against the new baseline
    _redo_drift(paths, last)
    after = _overall(paths, last)
    assert after["monthly_spend"]["profile_id"] == baseline["profile_id"]
    assert not after["monthly_spend"]["drifted"]
    assert after["monthly_spend"]["psi"] < before["monthly_spend"]["psi"]


def test_accepting_drift_needs_a_reason(drifted_home):
    with pytest.raises(SystemExit, match="--reason"):
        cli.main(["accept-drift", "--reason", "  ", "--home", str(drifted_home.home)])


def test_the_never_policy_keeps_the_first_model_and_turns_the_schedule_off(drifted_home):
    from cl_assets.lib import warehouse

    with warehouse.connect(drifted_home.warehouse, read_only=True) as con:
        kinds = warehouse.fetch_records(con, "select kind from retrain_triggers")
    assert [k["kind"] for k in kinds] == ["bootstrap"]
    schedule = build_defs(drifted_home).get_repository_def().get_schedule_def("periodic_retrain_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_every_launched_retrain_run_is_tagged_with_its_trigger_id(story_run: LoopRun):
    records = {
        r["dagster_run_id"]: r["trigger_id"]
        for r in story_run.sql("select dagster_run_id, trigger_id from retrain_triggers")
    }
    runs = story_run.instance.get_runs(filters=dg.RunsFilter(job_name="retrain_job"))
    assert len(runs) == len(records) > 1
    assert len(set(records.values())) == len(records)
    for run in runs:
        assert run.tags["cl/trigger_id"] == records[run.run_id]
        assert run.tags["cl/trigger_id"].startswith(run.tags["cl/trigger_kind"].split("+")[0])
