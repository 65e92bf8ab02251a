"""refit_impact and refit_check in the running loop: what a retrain on the newest labels would
change, measured on every scored batch, and a trigger only when the RetrainPolicy says so."""

import json
import shutil

import dagster as dg
import pytest

from cl_assets import playback
from cl_assets.defs import build_defs
from cl_assets.defs.monitoring import assets as monitoring
from cl_assets.defs.monitoring import checks as monitors
from cl_assets.defs.resources import MonitoringPolicy
from cl_assets.lib import modeling, scenario, warehouse
from cl_assets.settings import StatePaths
from tests.conftest import SHORT_ROWS, LoopRun, play_quietly


def test_every_scored_batch_is_compared_with_a_refit_overall_and_per_slice(story_run: LoopRun):
    scored = {r["batch_id"] for r in story_run.sql("select distinct batch_id from predictions")}
    rows = story_run.sql("select * from refit_impact order by batch_id, slice")
    assert {r["batch_id"] for r in rows} == scored
    for batch in scored:
        mine = {r["slice"]: r for r in rows if r["batch_id"] == batch}
        assert set(mine) == {modeling.OVERALL, *scenario.REGIONS}
        overall = mine[modeling.OVERALL]
        assert sum(mine[s]["rows"] for s in scenario.REGIONS) == overall["rows"]
        assert 0 <= overall["disagreement"] <= 1 and overall["mean_abs_change"] >= 0
        assert 0 <= overall["expected_gain"] <= overall["disagreement"]  # a flip gains at most 1
        # the refit learns from labeled batches only, never from the batch it judges, and none older
        # than the champion learned from (after a restart on decay, not the concept it left out)
        refit_batches = json.loads(overall["refit_batches"])
        assert batch not in refit_batches
        (learned,) = story_run.sql(
            "select t.batches from candidate_models c join training_set_versions t on t.version = c.training_set_version "
            "where c.model_version = ?",
            [overall["model_version"]],
        )
        assert all(b >= min(json.loads(learned["batches"])) for b in refit_batches), (batch, refit_batches, learned)
        if overall["refit_rows"] == 0:  # not refitted: the champion already learned every labeled batch
            assert overall["disagreement"] == 0


def test_the_concept_drift_is_what_a_refit_changes_most(story_run: LoopRun):
    rows = story_run.sql(
        "select batch_id, disagreement from refit_impact where slice = ? order by batch_id", [modeling.OVERALL]
    )
    share = {int(r["batch_id"].split("_")[1]): r["disagreement"] for r in rows}
    drift = story_run.story.concept_drift
    before = [v for b, v in share.items() if b < story_run.story.label_prior]
    after = [share[b] for b in (drift + 1, drift + 2) if b in share]
    assert after and max(after) > max(before) + 0.05, share


def test_under_the_default_policy_a_failed_refit_check_alerts_and_is_held(story_run: LoopRun):
    failed = [
        r
        for r in story_run.instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("refit_impact"), "refit_check"), limit=100
        )
        if r.status.value == "FAILED"
    ]
    assert failed
    held = story_run.instance.fetch_observations(dg.AssetKey("retrain_trigger"), limit=500).records
    rules = [
        r.asset_observation.metadata["rule"].value
        for r in held
        if r.asset_observation.metadata["check"].value == "refit_check"
    ]
    assert rules and set(rules) == {"not_a_trigger"}, rules
    kinds = [r["kind"] for r in story_run.sql("select kind from retrain_triggers")]
    assert not any("refit_check" in k for k in kinds), kinds


@pytest.fixture(scope="module")
def refit_triggered(tmp_path_factory) -> StatePaths:
    """A short loop through a concept drift, retrained by refit_check alone (drift and performance off)."""
    story = scenario.Story(covariate_shift=50, new_category=50, label_prior=50, concept_drift=3)
    policy = {"drift_breaches": 0, "performance_breaches": 0, "refit_breaches": 1}
    return play_quietly(tmp_path_factory, "refit", 7, SHORT_ROWS // 2, seed=5, story=story, policy=policy)


def test_a_refit_check_failure_triggers_a_retrain_with_its_evidence(refit_triggered):
    with warehouse.connect(refit_triggered.warehouse, read_only=True) as con:
        triggers = warehouse.fetch_records(con, "select * from retrain_triggers order by triggered_at")
        impact = warehouse.fetch_records(con, "select * from refit_impact where slice = ?", [modeling.OVERALL])
    kinds = [t["kind"] for t in triggers]
    assert kinds[0] == "bootstrap" and "refit_check" in kinds[1:], kinds
    assert not any("drift_check" in k or "performance_check" in k for k in kinds), kinds
    fired = next(t for t in triggers if t["kind"] == "refit_check")
    evidence = next(iter(json.loads(fired["evidence"]).values()))
    assert evidence["expected_gain"] >= evidence["threshold"]
    by_batch = {r["batch_id"]: r for r in impact}
    assert by_batch[fired["batch_id"]]["expected_gain"] == pytest.approx(evidence["expected_gain"], abs=1e-4)
    assert by_batch[fired["batch_id"]]["refit_rows"] > 0


def _refit_again(paths: StatePaths, batch_id: str, **policy) -> tuple[dict, dg.AssetCheckEvaluation]:
    """Materialize refit_impact and refit_check for one batch of the state in `paths`, under a
    MonitoringPolicy with `policy` changed; return the asset's metadata and the check's result."""
    defs = build_defs(paths)
    resources = {**defs.resources, "monitoring_policy": MonitoringPolicy(**policy)}
    result = dg.materialize(
        [monitoring.refit_impact, monitors.refit_check],
        partition_key=batch_id,
        instance=playback.instance_for(paths),
        resources=resources,
    )
    (materialized,) = result.asset_materializations_for_node("refit_impact")
    (checked,) = result.get_asset_check_evaluations()
    return {k: v.value for k, v in materialized.metadata.items()}, checked


@pytest.fixture
def refitted_copy(refit_triggered, tmp_path) -> tuple[StatePaths, str]:
    """A copy of the refit-triggered state, and its newest batch that was refitted."""
    paths = StatePaths.resolve(shutil.copytree(refit_triggered.home, tmp_path / "copy"))
    with warehouse.connect(paths.warehouse, read_only=True) as con:
        ((batch_id,),) = con.execute(
            "select max(batch_id) from refit_impact where slice = ? and refit_rows > 0", [modeling.OVERALL]
        ).fetchall()
    return paths, batch_id


def _others(paths: StatePaths, batch_id: str) -> list[dict]:
    with warehouse.connect(paths.warehouse, read_only=True) as con:
        return warehouse.fetch_records(
            con, "select * exclude (computed_at) from refit_impact where batch_id <> ? order by all", [batch_id]
        )


def test_with_the_refit_off_nothing_is_fitted_and_the_check_passes(refitted_copy):
    paths, batch_id = refitted_copy
    before = _others(paths, batch_id)
    metadata, check = _refit_again(paths, batch_id, refit=False)
    assert metadata["refit"] == "not refitted: MonitoringPolicy.refit is off"
    assert metadata["refit_rows"] == 0 and metadata["refit_batches"] == [] and metadata["disagreement"] == 0
    assert check.passed and "not refitted" in check.description
    with warehouse.connect(paths.warehouse, read_only=True) as con:
        rows = warehouse.fetch_records(con, "select * from refit_impact where batch_id = ?", [batch_id])
    assert rows and all(r["refit_rows"] == 0 and r["expected_gain"] == 0 for r in rows)
    assert _others(paths, batch_id) == before  # other batches' rows untouched


def test_labels_of_one_class_skip_the_refit_with_a_reason_and_the_run_goes_on(refitted_copy):
    paths, batch_id = refitted_copy
    with warehouse.connect(paths.warehouse) as con:
        con.execute("update labels set label = 0")
    metadata, check = _refit_again(paths, batch_id)
    assert metadata["refit"].startswith("not refitted: the labeled rows of ") and "one class only" in metadata["refit"]
    assert metadata["refit_rows"] == 0 and metadata["refit_batches"]  # the window was read, then refused
    assert check.passed and "not refitted" in check.description
