"""refit_impact and refit_check in the running loop: what a retrain on the newest labels would
change, measured on every scored batch, and a trigger only when the RetrainPolicy says so."""

import json

import dagster as dg
import pytest

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
        # the refit learns from labeled batches only, never from the batch it judges
        assert batch not in json.loads(overall["refit_batches"])
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
