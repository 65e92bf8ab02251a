"""The definitions a user sees in the Dagster UI: loadable, pinned, documented, on by default."""

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from cl_assets.defs import build_defs
from cl_assets.settings import PROJECT_ROOT, StatePaths

ASSET_KEYS = [
    "batch_features",
    "batch_labels",
    "batch_performance",
    "candidate_model",
    "champion_model",
    "drift_metrics",
    "drift_report",
    "estimated_performance",
    "evaluation_report",
    "predictions",
    "raw_batches",
    "reference_profile",
    "refit_impact",
    "retrain_trigger",
    "stg_batches",
    "training_set",
]
CHECK_KEYS = [
    "batch_features:batch_id_not_null",
    "batch_features:entity_id_not_null",
    "batch_features:entity_id_unique",
    "batch_features:event_time_not_null",
    "batch_features:row_count_in_bounds",
    "batch_features:slice_not_null",
    "batch_labels:entity_id_known",
    "batch_labels:entity_id_not_null",
    "batch_labels:file_is_readable",
    "batch_labels:label_in_allowed_set",
    "batch_labels:label_matches_stored_label",
    "batch_labels:label_not_conflicting",
    "batch_labels:label_not_null",
    "batch_labels:no_feature_equals_label",
    "batch_labels:row_count_in_bounds",
    "batch_performance:performance_check",
    "drift_metrics:drift_check",
    "estimated_performance:estimated_performance_check",
    "evaluation_report:candidate_calibration_error_at_most",
    "evaluation_report:candidate_roc_auc_at_least",
    "evaluation_report:change_thresholds",
    "evaluation_report:holdout_rows_per_slice_at_least",
    "evaluation_report:promotion_gate",
    "evaluation_report:slice_coverage",
    "evaluation_report:value_thresholds",
    "raw_batches:age_in_range",
    "raw_batches:age_not_null",
    "raw_batches:age_type",
    "raw_batches:channel_in_allowed_set",
    "raw_batches:columns_match_contract",
    "raw_batches:customer_id_not_null",
    "raw_batches:customer_id_not_seen_before",
    "raw_batches:customer_id_unique",
    "raw_batches:discount_pct_in_range",
    "raw_batches:discount_pct_not_null",
    "raw_batches:discount_pct_type",
    "raw_batches:event_time_utc_not_future_or_far_past",
    "raw_batches:event_time_utc_not_null",
    "raw_batches:file_is_readable",
    "raw_batches:monthly_spend_in_range",
    "raw_batches:monthly_spend_not_null",
    "raw_batches:monthly_spend_type",
    "raw_batches:plan_in_allowed_set",
    "raw_batches:region_in_allowed_set",
    "raw_batches:row_count_in_bounds",
    "raw_batches:sessions_last_week_in_range",
    "raw_batches:sessions_last_week_not_null",
    "raw_batches:sessions_last_week_type",
    "raw_batches:support_calls_in_range",
    "raw_batches:support_calls_not_null",
    "raw_batches:support_calls_type",
    "raw_batches:tenure_months_in_range",
    "raw_batches:tenure_months_not_null",
    "raw_batches:tenure_months_type",
    "refit_impact:refit_check",
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    defs = build_defs(StatePaths.resolve(tmp_path_factory.mktemp("defs")))
    dg.Definitions.validate_loadable(defs)
    return defs.get_repository_def()


def test_asset_and_check_keys_are_pinned(repo):
    graph = repo.asset_graph
    assert sorted(k.to_user_string() for k in graph.get_all_asset_keys()) == ASSET_KEYS
    assert sorted(f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys) == CHECK_KEYS


def test_every_asset_sits_in_a_group_of_its_stage(repo):
    groups = {k.to_user_string(): repo.asset_graph.get(k).group_name for k in repo.asset_graph.get_all_asset_keys()}
    assert groups["raw_batches"] == groups["batch_labels"] == "ingest"
    assert groups["stg_batches"] == "staging" and groups["batch_features"] == "features"
    assert {groups[k] for k in ("retrain_trigger", "training_set", "candidate_model")} == {"training"}
    assert groups["evaluation_report"] == "evaluation"
    assert {groups[k] for k in ("champion_model", "reference_profile", "predictions")} == {"deployment"}
    assert {groups[k] for k in ("drift_metrics", "drift_report", "batch_performance")} == {"monitoring"}


def test_the_public_surface_is_described(repo):
    graph = repo.asset_graph
    undescribed = [k.to_user_string() for k in graph.get_all_asset_keys() if not graph.get(k).description]
    undescribed += [str(k) for k in graph.asset_check_keys if not graph.get_check_spec(k).description]
    undescribed += [s.name for s in repo.sensor_defs if not s.description]
    undescribed += [s.name for s in repo.schedule_defs if not s.description]
    undescribed += [j.name for j in repo.get_all_jobs() if not j.name.startswith("__") and not j.description]
    assert undescribed == []


def test_sql_models_show_their_sql(repo):
    for name in ("stg_batches", "batch_features"):
        metadata = repo.asset_graph.get(dg.AssetKey(name)).metadata
        assert "select" in metadata["sql"].value.lower()


def test_sensors_and_schedule_are_on_by_default(repo):
    assert {s.name: s.default_status for s in repo.sensor_defs} == {
        "landing_sensor": dg.DefaultSensorStatus.RUNNING,
        "retrain_sensor": dg.DefaultSensorStatus.RUNNING,
        "automation_sensor": dg.DefaultSensorStatus.RUNNING,
        "promotion_sensor": dg.DefaultSensorStatus.RUNNING,
    }
    (schedule,) = repo.schedule_defs
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_error_expectations_block_and_warnings_do_not(repo):
    graph = repo.asset_graph
    blocking = {
        f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys if graph.get_check_spec(k).blocking
    }
    warnings = {f"raw_batches:{c}_in_allowed_set" for c in ("region", "channel", "plan")}
    warnings.add("evaluation_report:holdout_rows_per_slice_at_least")
    fixed = {
        "drift_metrics:drift_check",
        "batch_performance:performance_check",
        "refit_impact:refit_check",
        "estimated_performance:estimated_performance_check",
    }
    assert blocking == set(CHECK_KEYS) - warnings - fixed
    assert "evaluation_report:promotion_gate" in blocking and "raw_batches:file_is_readable" in blocking


def test_dagster_loads_the_workspace_file(tmp_path):
    env = {"CL_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path), "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dg_checks_and_lists_the_definitions(tmp_path):
    """`dg` finds the project from pyproject.toml's [tool.dg]: what `cl dev` and `make dev` run."""
    env = {
        "CL_HOME": str(tmp_path),
        "DAGSTER_HOME": str(tmp_path),
        "PATH": str(Path(sys.executable).parent),
        "VIRTUAL_ENV": sys.prefix,
        "HOME": str(tmp_path),
    }
    dg_cli = str(Path(sys.executable).with_name("dg"))
    checked = subprocess.run(
        [dg_cli, "check", "defs", "--target-path", str(PROJECT_ROOT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    listed = subprocess.run(
        [dg_cli, "list", "defs", "--json", "--target-path", str(PROJECT_ROOT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assets = {a["asset_key"] for a in json.loads(listed.stdout)["assets"]}
    assert set(ASSET_KEYS) <= assets
    assert "supersed" not in (checked.stderr + listed.stderr).lower()


def test_partitioned_asset_checks_are_still_a_preview():
    """Why the per-batch checks are not partitioned (docs/dagster-ui.md): Dagster 1.13 marks a
    partitions_def on an asset check as a preview. When this fails, the warning is gone and the
    checks can take the batches' partitions, so the UI shows each batch's verdict on its partition."""
    from cl_assets.defs.partitions import batches

    with pytest.warns(dg.PreviewWarning, match="in preview"):
        dg.AssetCheckSpec("a_check", asset="an_asset", partitions_def=batches)


SQL_MODELS = ("stg_batches", "batch_features")  # described by their files in dbt_like_sql/
OWN_CHECKS = (  # written here, not generated from an expectation of a suite
    "promotion_gate",
    "value_thresholds",
    "change_thresholds",
    "slice_coverage",
    "drift_check",
    "performance_check",
    "refit_check",
    "estimated_performance_check",
)


def test_descriptions_are_short_and_their_details_are_in_the_docs(repo):
    """What the UI shows fits a line or two; the whole of it is a section of docs/assets.md."""
    graph = repo.asset_graph
    described = {k.to_user_string(): graph.get(k).description for k in graph.get_all_asset_keys()}
    described = {k: v for k, v in described.items() if k not in SQL_MODELS}
    described |= {k.name: graph.get_check_spec(k).description for k in graph.asset_check_keys if k.name in OWN_CHECKS}
    assert set(OWN_CHECKS) <= set(described)
    too_long = {name: len(text) for name, text in described.items() if len(text) > 240}
    assert not too_long, f"descriptions over 240 characters (move the details to docs/assets.md): {too_long}"
    sections = {
        line[4:].strip()
        for line in (PROJECT_ROOT / "docs" / "assets.md").read_text().splitlines()
        if line.startswith("### ")
    }
    assert set(described) <= sections, f"not in docs/assets.md: {sorted(set(described) - sections)}"
