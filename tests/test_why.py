"""`cl why VERSION`: the chain behind a model version, checked against the tables it comes from."""

import json

import pytest
from mlflow import MlflowClient

from cl_assets import cli


def why(story_run, version: int, capsys, *extra: str) -> str:
    cli.main(["why", str(version), "--home", str(story_run.paths.home), *extra])
    return capsys.readouterr().out


def test_why_a_champion_exists(story_run, capsys):
    (latest,) = story_run.sql("select * from champion_history order by promoted_at desc limit 1")
    chain = json.loads(why(story_run, latest["model_version"], capsys, "--json"))
    (trigger,) = story_run.sql("select * from retrain_triggers where trigger_id = ?", [latest["trigger_id"]])
    assert chain["trigger"]["id"] == trigger["trigger_id"] and chain["trigger"]["kind"] == trigger["kind"]
    assert chain["trigger"]["reason"] == trigger["reason"]
    assert chain["training_set"]["version"] == latest["training_set_version"]
    assert chain["gate"]["passed"] is True and chain["gate"]["report_id"] == latest["report_id"]
    assert chain["promotion"]["replaced"] == latest["previous_version"]
    assert chain["promotion"]["replaced_at"] is None  # still champion
    run = MlflowClient(story_run.paths.mlflow_tracking_uri).get_run(chain["candidate"]["mlflow_run_id"])
    assert run.data.tags["dagster_run_id"] == chain["candidate"]["dagster_run_id"]

    text = why(story_run, latest["model_version"], capsys)
    assert f"model v{latest['model_version']}" in text and chain["candidate"]["mlflow_run_id"] in text
    assert "(still champion)" in text and f"training set v{latest['training_set_version']}" in text
    (candidate,) = story_run.sql("select * from candidate_models where model_version = ?", [latest["model_version"]])
    assert chain["candidate"]["refit_with_holdout"] is candidate["refit_with_holdout"] is True
    assert "holdout (judged on the holdout, then refitted with it)" in text


def test_why_an_unknown_version_says_so(story_run):
    with pytest.raises(SystemExit, match="no model version 999"):
        cli.main(["why", "999", "--home", str(story_run.paths.home)])


def test_why_says_why_this_window(story_run, capsys):
    """The window a retrain chose by validation is explained: the reason and every candidate's score."""
    (model,) = story_run.sql(
        "select c.model_version, v.window_choice from candidate_models c "
        "join training_set_versions v on v.version = c.training_set_version "
        "where json_array_length(v.window_choice->'candidates') > 1 order by c.model_version desc limit 1"
    )
    choice = json.loads(model["window_choice"])
    chain = json.loads(why(story_run, model["model_version"], capsys, "--json"))
    assert chain["training_set"]["window_choice"] == choice
    text = why(story_run, model["model_version"], capsys)
    assert f"window    {choice['reason']}"[:120] in text
    for candidate in choice["candidates"]:
        assert f"{candidate['window_name']}: log loss {candidate['log_loss']:.4f}" in text
