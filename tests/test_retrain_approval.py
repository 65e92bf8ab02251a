"""RetrainPolicy.approval: every retrain the sensor would launch is held for a person, recorded
as an observation with its evidence, and runs only once approved (by `cl approve-retrain`, or by
launching retrain_job with retrain_trigger's `approve` config, as from the UI's launchpad), with
who and why kept in its trigger record, its run's tags and `cl why`."""

import json

import dagster as dg
import mlflow
import pytest

from cl_assets import cli
from cl_assets.defs import build_defs
from cl_assets.defs.triggers.approvals import AWAITING, awaiting_approval
from cl_assets.lib import scenario, triggers, warehouse
from cl_assets.replay import playback
from cl_assets.settings import StatePaths
from tests.conftest import SHORT_ROWS, SHORT_STORY, read_pending

PERSON, WAITS = "alice", 3  # she reads the queue once 3 batches were played, then after every batch
NOTHING = "no retrain awaits approval\nno challenger awaits approval\n"  # `cl pending` with empty queues
BATCHES = 9  # the covariate shift (batch 3) fails drift_check by batch 6, the label shift performance_check by 7


@pytest.fixture(scope="module")
def approved(tmp_path_factory) -> tuple[StatePaths, list[str], list[dict]]:
    """The short story under approval, with a person who approves the oldest waiting retrain."""
    paths = StatePaths.resolve(tmp_path_factory.mktemp("approval"))
    home = ["--home", str(paths.home)]
    lines, approvals = [], []

    def person(line: str) -> None:
        lines.append(line)
        if len(lines) < WAITS:
            return
        while (listed := read_pending(home, text=not approvals))["retrains"]:  # she reads `cl pending`
            pending = listed["retrains"]
            trigger_id = pending[0]["trigger_id"]
            reason = f"read the {pending[0]['kind']} evidence"
            if len(approvals) % 2 == 0:
                cli.main(["approve-retrain", trigger_id, "--reason", reason, "--by", PERSON, *home])
            else:  # what the launchpad does: retrain_job with retrain_trigger's config
                _launch(paths, {"approve": trigger_id, "reason": reason, "by": PERSON})
            waiting = [p["trigger_id"] for p in pending]
            approvals.append(
                {"trigger_id": trigger_id, "batches_played": len(lines), "waiting": waiting, "read": listed}
            )

    stream = playback.scenario_batches(BATCHES, SHORT_ROWS, seed=7, story=SHORT_STORY)
    report = playback.play(paths, scenario.spec(), stream, echo=person, policy={"approval": True})
    return paths, report["batches"], approvals


def _launch(paths: StatePaths, config: dict, **options) -> dg.ExecuteInProcessResult:
    """A retrain_job run with retrain_trigger's config, as the UI's launchpad submits it."""
    return (
        build_defs(paths)
        .resolve_job_def("retrain_job")
        .execute_in_process(
            instance=playback.instance_for(paths),
            run_config={"ops": {"retrain_trigger": {"config": config}}},
            raise_on_error=False,
            **options,
        )
    )


def _sql(paths: StatePaths, text: str) -> list[dict]:
    with warehouse.connect(paths.warehouse, read_only=True) as con:
        return warehouse.fetch_records(con, text)


def _awaiting_observations(paths: StatePaths) -> list[dict]:
    records = playback.instance_for(paths).fetch_observations(dg.AssetKey("retrain_trigger"), limit=500).records
    metas = [{k: v.value for k, v in r.asset_observation.metadata.items()} for r in records]
    return [m for m in metas if m.get("decision") == AWAITING]


def test_nothing_is_trained_before_a_person_approves(approved):
    paths, batches, approvals = approved
    first = approvals[0]
    assert first["batches_played"] == WAITS
    # the first model waited for her: no batch before then was scored by a champion
    assert all(b["champion_version"] is None for b in batches[: WAITS - 1]), batches[:WAITS]
    # requests made while she was away: one per new label delivery, and her one approval answered them all
    assert len(first["waiting"]) >= 2 and first["trigger_id"] == first["waiting"][0]


def test_cl_pending_lists_what_waits_with_the_command_to_run(approved):
    """She found the queue with `cl pending`: each held retrain with its kind, batch and reason, and
    no challenger (promotions are automatic here); once she approved, nothing waits."""
    paths, batches, approvals = approved
    read = approvals[0]["read"]
    assert read["promotions"] == [] and "no challenger awaits approval" in read["text"]
    assert f"retrains awaiting approval ({len(read['retrains'])}): `cl approve-retrain" in read["text"]
    observed = {m["trigger_id"]: m for m in _awaiting_observations(paths)}
    for held in read["retrains"]:
        recorded = observed[held["trigger_id"]]
        assert held == {k: recorded[k] for k in ("trigger_id", "kind", "batch_id", "reason")}
        assert f"  {held['trigger_id']}  {held['kind']}, batch {held['batch_id']}: {held['reason']}" in read["text"]
    assert {b["batch_id"] for b in batches[:WAITS]} >= {h["batch_id"] for h in read["retrains"]}
    home = ["--home", str(paths.home)]
    assert read_pending(home, text=True) == {"retrains": [], "promotions": [], "text": NOTHING}


def test_every_retrain_ran_by_approval_only_with_who_and_why(approved):
    paths, _, approvals = approved
    runs = playback.instance_for(paths).get_runs(filters=dg.RunsFilter(job_name="retrain_job"))
    assert runs and len(runs) == len(approvals)
    for run in runs:
        assert "dagster/sensor_name" not in run.tags and "dagster/schedule_name" not in run.tags, run.tags
        # the launchpad's runs, too: retrain_trigger added the held request's tags to its run
        assert run.tags[triggers.APPROVED_BY] == PERSON and run.tags[triggers.TRIGGER_ID], run.tags
    assert sorted(r.tags[triggers.TRIGGER_ID] for r in runs) == sorted(a["trigger_id"] for a in approvals)
    rows = _sql(paths, "select * from retrain_triggers order by triggered_at")
    assert [r["trigger_id"] for r in rows] == [a["trigger_id"] for a in approvals]
    for row in rows:
        assert row["approved_by"] == PERSON and row["approval_reason"] == f"read the {row['kind']} evidence"
    kinds = [r["kind"] for r in rows]
    assert kinds[0] == "bootstrap" and any(k not in ("bootstrap", "schedule") for k in kinds[1:]), kinds
    actors = _sql(paths, "select distinct actor from audit_trail where event = 'trigger'")
    assert actors == [{"actor": PERSON}]


def test_each_held_retrain_is_recorded_once_with_its_evidence(approved):
    paths, _, approvals = approved
    held = _awaiting_observations(paths)
    ids = [m["trigger_id"] for m in held]
    assert len(ids) == len(set(ids)), ids  # a request repeated on later ticks is recorded once
    assert {a["trigger_id"] for a in approvals} <= set(ids)
    rows = {r["trigger_id"]: r for r in _sql(paths, "select * from retrain_triggers")}
    for m in held:
        tags = m["run_tags"]
        assert tags[triggers.TRIGGER_ID] == m["trigger_id"] and tags[triggers.KIND] == m["kind"]
        if m["trigger_id"] in rows:  # the run carried the request's own trigger and evidence
            assert rows[m["trigger_id"]]["reason"] == m["reason"]
            assert json.loads(rows[m["trigger_id"]]["evidence"]) == m["evidence"]


def test_the_schedule_holds_its_retrain_too(approved):
    """The monthly schedule fires once, on day 4: under approval its run only records the request."""
    paths, _, _ = approved
    instance = playback.instance_for(paths)
    (held_run,) = instance.get_runs(filters=dg.RunsFilter(job_name="hold_retrain_job"))
    assert held_run.is_success and held_run.tags["dagster/schedule_name"] == "periodic_retrain_schedule"
    scheduled = [m for m in _awaiting_observations(paths) if m["kind"] == "schedule"]
    assert [m["trigger_id"] for m in scheduled] == [held_run.tags[triggers.TRIGGER_ID]]
    assert scheduled[0]["run_tags"] == {k: v for k, v in held_run.tags.items() if k.startswith("cl/")}
    retrains = instance.get_runs(filters=dg.RunsFilter(job_name="retrain_job"))
    assert all("dagster/schedule_name" not in r.tags for r in retrains)


def test_why_names_who_approved_and_a_second_approval_is_refused(approved, capsys):
    paths, _, approvals = approved
    home = ["--home", str(paths.home)]
    version = _sql(paths, "select max(model_version) as v from candidate_models")[0]["v"]
    capsys.readouterr()
    cli.main(["why", str(version), *home])
    assert f"approved  by {PERSON}: read the " in capsys.readouterr().out
    with pytest.raises(SystemExit, match=f"no retrain {approvals[0]['trigger_id']} awaits approval"):
        cli.main(["approve-retrain", approvals[0]["trigger_id"], "--reason", "again", *home])
    runs = playback.instance_for(paths).get_runs(filters=dg.RunsFilter(job_name="retrain_job"))
    assert len(runs) == len(approvals)  # the refusal ran nothing


def test_an_approval_from_the_launchpad_of_nothing_waiting_fails_and_stores_nothing(approved):
    paths, _, approvals = approved
    counts = "select (select count(*) from retrain_triggers) as t, (select count(*) from training_set_versions) as s"
    before = _sql(paths, counts)
    done = approvals[-1]["trigger_id"]
    client = mlflow.MlflowClient(paths.mlflow_tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    for config, refusal in (
        ({"approve": done, "reason": "again", "by": PERSON}, f"no retrain {done} awaits approval"),
        ({"reason": "no id", "by": PERSON}, "`reason` and `by` go with `approve`"),
    ):
        result = _launch(paths, config)
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        assert failure.step_key == "retrain_trigger" and refusal in failure.step_failure_data.error.message
        # the MLflow run dagster-mlflow started with the run is ended, not left active in this
        # process for the next run to log into (or to fail on, in another state folder)
        assert mlflow.active_run() is None
        (tracked,) = client.search_runs(experiments, f"tags.dagster_run_id = '{result.run_id}'")
        assert tracked.info.status == "FAILED"
    assert _sql(paths, counts) == before
    unchanged = playback.instance_for(paths).get_runs(filters=dg.RunsFilter(job_name="retrain_job"), limit=1)[0]
    assert triggers.TRIGGER_ID not in unchanged.tags  # a refused approval adds no tags to its run


def test_re_executing_an_approved_run_keeps_its_approval(approved):
    """The UI re-executes a run with its parent's config and tags (those retrain_trigger added
    included): the request it answered waits no more, yet the re-execution records it again."""
    paths, _, approvals = approved
    instance = playback.instance_for(paths)
    done = approvals[-1]["trigger_id"]
    (parent,) = instance.get_runs(filters=dg.RunsFilter(job_name="retrain_job", tags={triggers.TRIGGER_ID: done}))
    config = parent.run_config["ops"]["retrain_trigger"]["config"]
    assert config["approve"] == done and done not in awaiting_approval(instance)
    copied = {**{k: v for k, v in parent.tags.items() if k.startswith("cl/")}, "dagster/parent_run_id": parent.run_id}
    result = _launch(paths, config, tags=copied, asset_selection=[dg.AssetKey("retrain_trigger")])
    assert result.success
    (row,) = _sql(paths, f"select * from retrain_triggers where trigger_id = '{done}'")
    assert row["dagster_run_id"] == result.run_id and row["approved_by"] == PERSON
