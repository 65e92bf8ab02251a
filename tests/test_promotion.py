"""Safe promotion in the loop: a person's approval (manual mode), rollback, and canaries."""

import json
import os
import subprocess
import sys

import dagster as dg
import pytest
from mlflow import MlflowClient

from cl_assets import cli
from cl_assets.defs import build_defs
from cl_assets.lib import modeling, promotion, registry, scenario, warehouse
from cl_assets.replay import playback
from cl_assets.settings import StatePaths
from tests.conftest import play_quietly, read_pending


def sql(paths: StatePaths, text: str, params: list | None = None) -> list[dict]:
    with warehouse.connect(paths.warehouse, read_only=True) as con:
        return warehouse.fetch_records(con, text, params)


def champion_alias(paths: StatePaths) -> int:
    client = MlflowClient(paths.mlflow_tracking_uri)
    return int(client.get_model_version_by_alias("cl_model", registry.CHAMPION).version)


def actions(paths: StatePaths) -> list[tuple[str, int]]:
    return [(r["action"], r["model_version"]) for r in sql(paths, "select * from promotions order by decided_at")]


def waiting(home: list[str]) -> list[int]:
    """The challengers `cl pending` lists as awaiting a person's approval."""
    return [c["model_version"] for c in read_pending(home)["promotions"]]


@pytest.fixture(scope="module")
def manual(tmp_path_factory) -> StatePaths:
    return play_quietly(tmp_path_factory, "manual", 4, 600, seed=3, promotion={"mode": "manual"})


def test_under_manual_mode_a_passing_first_model_waits_and_nothing_is_scored(manual):
    assert sql(manual, "select * from champion_history") == []
    assert sql(manual, "select * from predictions") == []
    (gate,) = sql(manual, "select * from gate_decisions")
    assert gate["passed"]
    assert actions(manual) == [("awaiting_approval", gate["candidate_version"])]
    instance = playback.instance_for(manual)
    held = instance.fetch_observations(dg.AssetKey("champion_model"), limit=5).records
    assert [r.asset_observation.metadata["decision"].value for r in held] == ["awaiting_approval"]
    assert instance.get_latest_materialization_event(dg.AssetKey("champion_model")) is None
    # the waiting candidate is not trained again on every label delivery
    assert len(instance.get_runs(filters=dg.RunsFilter(job_name="retrain_job"))) == 1


def test_approve_retrain_approve_and_roll_back_each_recorded(manual, capsys):
    home = ["--home", str(manual.home)]
    (first,) = sql(manual, "select candidate_version from gate_decisions")
    v1 = first["candidate_version"]

    with pytest.raises(SystemExit, match=rf"^not approved: model version {v1 + 5} has not passed the promotion gate"):
        cli.main(["approve", str(v1 + 5), "--reason", "typo", *home])
    with pytest.raises(SystemExit, match="there is no champion yet"):
        cli.main(["rollback", "--reason", "nothing to restore", *home])

    capsys.readouterr()
    cli.main(["pending", *home])
    assert f"challengers awaiting approval (1): `cl approve VERSION --reason ...`\n  version {v1}  since " in (
        capsys.readouterr().out
    )
    assert waiting(home) == [v1]
    cli.main(["approve", str(v1), "--reason", "reviewed the report", "--by", "ann", *home])
    assert f"version {v1} is the champion" in capsys.readouterr().out
    assert champion_alias(manual) == v1
    (row,) = sql(manual, "select * from champion_history")
    assert row["model_version"] == v1 and row["reason"] == "approved: reviewed the report"
    assert sql(manual, "select count(*) as n from reference_baselines")[0]["n"] == 1

    # a person retrains from the UI: the new candidate waits too
    result = (
        build_defs(manual)
        .resolve_job_def("retrain_job")
        .execute_in_process(instance=playback.instance_for(manual), tags={"user": "ann"}, raise_on_error=False)
    )
    assert result.success
    v2 = sql(manual, "select max(model_version) as v from candidate_models")[0]["v"]
    gate = sql(manual, "select * from gate_decisions where candidate_version = ?", [v2])[0]
    if not gate["passed"]:
        pytest.fail(f"the retrained candidate failed the gate: {gate['reasons']}")
    assert actions(manual)[-1] == ("awaiting_approval", v2)
    assert champion_alias(manual) == v1
    assert waiting(home) == [v2]  # v1's wait ended with its approval

    cli.main(["approve", str(v2), "--reason", "fresher data", "--by", "bob", *home])
    assert champion_alias(manual) == v2
    with pytest.raises(SystemExit, match="already the champion"):
        cli.main(["approve", str(v2), "--reason", "again", *home])
    assert waiting(home) == []

    cli.main(["rollback", "--reason", "complaints from the field", "--by", "cy", *home])
    assert f"version {v1} is the champion (was {v2})" in capsys.readouterr().out.splitlines()[-1]
    assert champion_alias(manual) == v1
    assert actions(manual) == [
        ("awaiting_approval", v1),
        ("approved", v1),
        ("awaiting_approval", v2),
        ("approved", v2),
        ("rolled_back", v1),
    ]
    latest = sql(manual, "select * from champion_history order by promoted_at desc limit 1")[0]
    assert latest["model_version"] == v1 and latest["previous_version"] == v2
    # a second rollback does not undo the first: v2 was rolled back, and no other champion is left
    with pytest.raises(SystemExit, match=f"no earlier champion to restore before version {v1}"):
        cli.main(["rollback", "--reason", "again", *home])
    assert champion_alias(manual) == v1 and len(actions(manual)) == 5
    # nor does approving the rolled-back version again: its wait ended with its approval (the
    # rollback's row is v1's), and restoring it is a rollback's job
    with pytest.raises(
        SystemExit,
        match=f"^not approved: model version {v2} is not awaiting approval: its newest decision is 'approved'.*`cl rollback --to {v2}`",
    ):
        cli.main(["approve", str(v2), "--reason", "changed my mind", *home])
    assert champion_alias(manual) == v1 and len(actions(manual)) == 5
    # the restored champion is judged against its own reference again
    baseline = sql(manual, "select * from reference_baselines order by profile_id desc limit 1")[0]
    assert baseline["model_version"] == v1

    trail = sql(manual, "select * from audit_trail where event = 'promotion' order by happened_at")
    assert [(t["action"], t["actor"]) for t in trail if t["actor"]] == [
        ("approved", "ann"),
        ("approved", "bob"),
        ("rolled_back", "cy"),
    ]

    cli.main(["why", str(v1), "--json", *home])
    chain = json.loads(capsys.readouterr().out)
    assert [d["action"] for d in chain["decisions"]] == ["awaiting_approval", "approved", "rolled_back"]
    assert chain["decisions"][-1]["by"] == "cy"


def test_a_command_in_a_terminal_prints_its_answer_only(manual, monkeypatch):
    """Every `cl` command turns off third-party telemetry, and a person sees no third-party beta
    notice: the refusal of a bad approval is the only line (a run is started, so Dagster,
    dagster-mlflow and MLflow are all loaded)."""
    quiet = ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "GX_ANALYTICS_ENABLED")
    for name in quiet:
        monkeypatch.delenv(name, raising=False)
    cli.main(["pending", "--home", str(manual.home)])
    assert {name: os.environ.get(name) for name in quiet} == dict(zip(quiet, ("true", "true", "false"), strict=True))
    bad = sql(manual, "select max(model_version) as v from candidate_models")[0]["v"] + 5
    env = {k: v for k, v in os.environ.items() if k not in quiet and not k.startswith("PYTHONWARN")}
    done = subprocess.run(
        [sys.executable, "-m", "cl_assets.cli", "approve", str(bad), "--reason", "typo", "--home", str(manual.home)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"not approved: model version {bad} has not passed the promotion gate")


def concluded_canary(paths: StatePaths) -> dict:
    """The newest canary that reached a verdict (a newer passing candidate replaces a running
    canary, and one started near the end of the replay is still running when it stops)."""
    concluded = sql(
        paths,
        "select s.* from promotions s join promotions v on v.model_version = s.model_version "
        "and v.action in ('canary_promoted', 'canary_rolled_back') "
        "where s.action = 'canary_started' order by s.decided_at desc",
    )
    assert concluded, f"no canary reached a verdict: {actions(paths)}"
    return concluded[0]


@pytest.fixture(scope="module")
def canary(tmp_path_factory) -> StatePaths:
    story = scenario.Story(covariate_shift=3, new_category=99, label_prior=99, concept_drift=99)
    canary = {"mode": "canary", "canary_share": 0.3, "canary_batches": 2, "canary_min_rows": 100}
    return play_quietly(tmp_path_factory, "canary", 9, 800, seed=5, story=story, promotion=canary)


def test_a_canary_scores_its_share_beside_the_champion(canary):
    started = concluded_canary(canary)
    rows = sql(
        canary,
        "select s.*, p.score from canary_scores s join predictions p using (batch_id, entity_id) where s.canary_id = ?",
        [started["promotion_id"]],
    )
    assert rows, "the canary scored nothing"
    batches = {r["batch_id"] for r in rows}
    total = sql(
        canary,
        "select count(*) as n from predictions where batch_id in (select unnest(?::varchar[]))",
        [sorted(batches)],
    )[0]["n"]
    assert 0.2 < len(rows) / total < 0.4  # canary_share 0.3
    assert all(r["champion_score"] == pytest.approx(r["score"]) for r in rows)
    assert all(r["challenger_version"] == started["model_version"] for r in rows)


def test_a_canary_verdict_is_acted_on_by_the_sensor_with_its_evidence(canary):
    started = concluded_canary(canary)
    concluded = sql(
        canary,
        "select * from promotions where action in ('canary_promoted', 'canary_rolled_back') and model_version = ?",
        [started["model_version"]],
    )
    assert len(concluded) == 1, actions(canary)
    decision = concluded[0]
    evidence = json.loads(decision["evidence"])
    assert evidence["canary_id"] == started["promotion_id"]

    # the verdict follows from the stored rows, recomputed here
    labeled = sql(
        canary,
        "select s.*, l.label from canary_scores s join labels l using (batch_id, entity_id) "
        "where s.canary_id = ? and s.batch_id in (select unnest(?::varchar[]))",
        [started["promotion_id"], evidence["labeled_batches"]],
    )
    labels = [r["label"] for r in labeled]
    champ = modeling.metrics(labels, [r["champion_score"] for r in labeled])
    chall = modeling.metrics(labels, [r["challenger_score"] for r in labeled])
    assert evidence["challenger"]["accuracy"] == pytest.approx(chall["accuracy"])
    assert evidence["champion"]["log_loss"] == pytest.approx(champ["log_loss"])
    expected, _ = promotion.verdict(champ, chall, len(evidence["labeled_batches"]), promotion.CanaryRules())
    assert decision["action"] == {"promote": "canary_promoted", "roll_back": "canary_rolled_back"}[expected]

    instance = playback.instance_for(canary)
    runs = instance.get_runs(filters=dg.RunsFilter(job_name="promotion_job"))
    assert len(runs) == 1
    assert runs[0].tags["dagster/sensor_name"] == "promotion_sensor"
    assert runs[0].tags["cl/canary_id"] == started["promotion_id"]
    assert decision["dagster_run_id"] == runs[0].run_id

    client = MlflowClient(canary.mlflow_tracking_uri)
    if expected == promotion.PROMOTE:
        assert champion_alias(canary) == started["model_version"]
        history = sql(canary, "select * from champion_history order by promoted_at desc limit 1")[0]
        assert history["reason"].startswith("canary_promoted:")
    else:
        assert champion_alias(canary) == started["champion_version"]
    aliases = client.get_registered_model("cl_model").aliases
    assert aliases.get(registry.CHALLENGER) != str(started["model_version"])
