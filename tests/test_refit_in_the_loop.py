"""refit_impact and refit_check in the running loop: each labeled batch prices a retrain (the
candidate windows fitted on the batches before it, against the champion on the same rows), and
a retrain is launched once the accuracy lost since the champion's promotion reaches its cost."""

import json
import shutil

import dagster as dg
import pytest

from cl_assets.defs import build_defs
from cl_assets.defs.monitoring import refits
from cl_assets.defs.monitoring.policy import MonitoringPolicy
from cl_assets.defs.triggers.policy import RetrainPolicy
from cl_assets.lib import modeling, warehouse, windows
from cl_assets.replay import playback
from cl_assets.settings import StatePaths
from tests.conftest import LoopRun


def test_every_labeled_batch_is_priced_by_candidate_windows_fitted_before_it(story_run: LoopRun):
    rows = story_run.sql("select * from refit_candidates order by batch_id, train_rows")
    priced = {r["batch_id"] for r in rows}
    labeled = {
        r["batch_id"]
        for r in story_run.sql("select batch_id from batch_performance where slice = ?", [modeling.OVERALL])
    }
    assert priced and priced <= labeled and len(labeled - priced) <= 1, (labeled, priced)  # the first has no past
    realized = {
        r["batch_id"]: r["accuracy"]
        for r in story_run.sql("select batch_id, accuracy from batch_performance where slice = ?", [modeling.OVERALL])
    }
    for batch in priced:
        mine = [r for r in rows if r["batch_id"] == batch]
        (chosen,) = [r for r in mine if r["chosen"]]
        best = min(r["log_loss"] for r in mine)
        tied = [r for r in mine if r["log_loss"] <= best + windows.TIE]
        assert chosen["train_rows"] == min(r["train_rows"] for r in tied)  # the cheapest of the best
        for r in mine:  # every fit learned only from batches before the one it is scored on, or from
            learned = json.loads(r["learned_batches"])  # the other half of that batch (newest only)
            assert len(learned) == r["window_batches"]
            assert learned == [batch] if r["window_name"] == windows.NEWEST else max(learned) < batch
            assert r["gain"] == pytest.approx(r["accuracy"] - r["champion_accuracy"])
            assert r["champion_accuracy"] == pytest.approx(realized[batch])  # the same rows as the champion's
            # the gain refit_check sums is priced on the chosen row only: each half's window among the candidates
            assert (r["priced_gain"] is not None) == r["chosen"] and (r["priced_gain_se"] is not None) == r["chosen"]
        halves = json.loads(chosen["priced_windows"])
        assert len(halves) == 2 and set(halves) <= {r["window_name"] for r in mine}
        if len(set(halves)) == 1 and halves[0] == chosen["window_name"]:  # one window throughout: the same gain
            assert chosen["priced_gain"] == pytest.approx(chosen["gain"])


def test_the_concept_drift_is_where_a_retrain_pays_most(story_run: LoopRun):
    gains = {
        int(r["batch_id"].split("_")[1]): r["gain"]
        for r in story_run.sql("select batch_id, gain from refit_candidates where chosen")
    }
    drift = story_run.story.concept_drift
    before = [g for b, g in gains.items() if b < story_run.story.label_prior]
    after = [gains[b] for b in (drift + 1, drift + 2) if b in gains]
    assert after and max(after) > max(before) + 0.05, gains


def test_refit_check_sums_the_gains_since_the_last_retrain_against_its_cost(story_run: LoopRun):
    cost, z = RetrainPolicy().retrain_cost_points, RetrainPolicy().retrain_confidence_z
    checks = story_run.sql("select * from check_results where check_name = 'refit_check' order by evaluated_at")
    gains = {r["batch_id"]: r for r in story_run.sql("select * from refit_candidates where chosen")}
    assert checks
    for check in checks:
        evidence = json.loads(check["evidence"])
        counted = evidence["gain_points_by_batch"]
        assert evidence["accumulated_gain_points"] == pytest.approx(sum(counted.values()), abs=0.01)
        for batch, points in counted.items():  # each a batch the same champion scored
            assert gains[batch]["model_version"] == check["model_version"]
            assert points == pytest.approx(100 * gains[batch]["priced_gain"], abs=1e-3)
        se = 100 * sum(gains[b]["priced_gain_se"] ** 2 for b in counted) ** 0.5
        assert evidence["accumulated_gain_se_points"] == pytest.approx(se, abs=1e-3)
        lower = evidence["accumulated_gain_points"] - z * se
        assert evidence["lower_bound_points"] == pytest.approx(lower, abs=2e-3)
        assert check["passed"] == (not counted or lower < cost), evidence


def test_a_refit_check_failure_launches_a_retrain_with_its_expected_value(story_run: LoopRun):
    triggers = story_run.sql("select * from retrain_triggers where kind like '%refit_check%' order by triggered_at")
    assert triggers
    for trigger in triggers:
        evidence = json.loads(trigger["evidence"])[f"refit_check@{trigger['batch_id']}"]
        assert evidence["lower_bound_points"] >= evidence["retrain_cost_points"]
        assert evidence["lower_bound_points"] == pytest.approx(
            evidence["accumulated_gain_points"] - evidence["confidence_z"] * evidence["accumulated_gain_se_points"],
            abs=1e-3,
        )
        assert evidence["net_points"] == pytest.approx(
            evidence["lower_bound_points"] - evidence["retrain_cost_points"], abs=1e-3
        )
        assert "would have scored" in trigger["reason"]


def test_drift_alone_alerts_and_is_held_as_not_a_trigger(story_run: LoopRun):
    held = story_run.instance.fetch_observations(dg.AssetKey("retrain_trigger"), limit=500).records
    rules = {
        r.asset_observation.metadata["rule"].value
        for r in held
        if r.asset_observation.metadata["check"].value == "drift_check"
    }
    assert rules == {"not_a_trigger"}, rules
    kinds = [r["kind"] for r in story_run.sql("select kind from retrain_triggers")]
    assert not any("drift_check" in k for k in kinds), kinds


def _refit_again(paths: StatePaths, batch_id: str, **policy) -> tuple[dict, dg.AssetCheckEvaluation]:
    """Materialize refit_impact and refit_check for one batch of the state in `paths`, under a
    MonitoringPolicy with `policy` changed; return the asset's metadata and the check's result."""
    defs = build_defs(paths)
    resources = {**defs.resources, "monitoring_policy": MonitoringPolicy(**policy)}
    result = dg.materialize(
        [refits.refit_impact, refits.refit_check],
        partition_key=batch_id,
        instance=playback.instance_for(paths),
        resources=resources,
    )
    (materialized,) = result.asset_materializations_for_node("refit_impact")
    (checked,) = result.get_asset_check_evaluations()
    return {k: v.value for k, v in materialized.metadata.items()}, checked


@pytest.fixture
def refitted_copy(story_run: LoopRun, tmp_path) -> tuple[StatePaths, str]:
    """A copy of the story's state, and its newest batch that was priced."""
    paths = StatePaths.resolve(shutil.copytree(story_run.paths.home, tmp_path / "copy"))
    with warehouse.connect(paths.warehouse, read_only=True) as con:
        ((batch_id,),) = con.execute("select max(batch_id) from refit_candidates").fetchall()
    return paths, batch_id


def _others(paths: StatePaths, batch_id: str) -> list[dict]:
    with warehouse.connect(paths.warehouse, read_only=True) as con:
        return warehouse.fetch_records(
            con, "select * exclude (computed_at) from refit_candidates where batch_id <> ? order by all", [batch_id]
        )


def test_with_the_refit_off_nothing_is_fitted_and_the_check_passes(refitted_copy):
    paths, batch_id = refitted_copy
    before = _others(paths, batch_id)
    metadata, check = _refit_again(paths, batch_id, refit=False)
    assert metadata["refit"] == "not refitted: MonitoringPolicy.refit is off" and metadata["gain_points"] == 0
    assert "not refitted" in check.description
    with warehouse.connect(paths.warehouse, read_only=True) as con:
        rows = warehouse.fetch_records(con, "select * from refit_candidates where batch_id = ?", [batch_id])
    assert rows == []
    assert _others(paths, batch_id) == before  # other batches' rows untouched


def test_labels_of_one_class_skip_the_refit_with_a_reason_and_the_run_goes_on(refitted_copy):
    paths, batch_id = refitted_copy
    with warehouse.connect(paths.warehouse) as con:
        con.execute("update labels set label = 0")
    metadata, check = _refit_again(paths, batch_id)
    assert metadata["refit"] == "not refitted: no labeled batch before this one holds both labels"
    assert "not refitted" in check.description
