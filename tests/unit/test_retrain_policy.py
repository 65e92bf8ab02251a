"""RetrainPolicy as `cl replay --policy` and `cl backtest --policies` spell it."""

import json

import pytest

from cl_assets.defs.triggers.policy import RetrainMode, RetrainPolicy


@pytest.mark.parametrize(
    ("text", "mode", "changed"),
    [
        ("auto", RetrainMode.AUTO, {}),
        ("never", RetrainMode.NEVER, {}),
        ("periodic:3", RetrainMode.PERIODIC, {"every_batches": 3}),
        ("volume:500", RetrainMode.VOLUME, {"min_new_labels": 500}),
        ("fixed:3:5000", RetrainMode.FIXED, {"every_batches": 3, "window_rows": 5000}),
        ("auto:cooldown_batches=4", RetrainMode.AUTO, {"cooldown_batches": 4}),
        (
            "auto:drift_breaches=1:drift_window=1:retry_batches=0",
            RetrainMode.AUTO,
            {"drift_breaches": 1, "drift_window": 1, "retry_batches": 0},
        ),
        ("auto:approval=1", RetrainMode.AUTO, {"approval": True}),
        ("auto:approval=0", RetrainMode.AUTO, {}),
    ],
)
def test_a_policy_reads_as_written_and_its_label_reads_back(text, mode, changed):
    policy = RetrainPolicy.parse(text)
    defaults = RetrainPolicy()
    assert policy.mode == mode
    for field in RetrainPolicy.model_fields:
        if field != "mode":
            assert getattr(policy, field) == changed.get(field, getattr(defaults, field)), field
    assert RetrainPolicy.parse(policy.label) == policy
    # the state folder keeps it as JSON, and build_defs reads it back from there
    assert RetrainPolicy(**json.loads(json.dumps(policy.model_dump(mode="json")))) == policy


def test_the_label_names_only_the_controls_that_differ_from_the_defaults():
    default = RetrainPolicy().cooldown_batches
    assert RetrainPolicy.parse(f"auto:cooldown_batches={default}").label == "auto"
    assert RetrainPolicy.parse("auto:retry_batches=0:cooldown_batches=4").label == (
        "auto:cooldown_batches=4:retry_batches=0"  # in the order of AUTO_SETTINGS
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sometimes", "unknown policy 'sometimes'"),
        ("periodic:0", "unknown policy 'periodic:0'"),
        ("volume", "unknown policy 'volume'"),
        ("never:2", "unknown policy 'never:2'"),
        ("fixed:3", "fixed:K:ROWS"),
        ("fixed:0:100", "unknown policy 'fixed:0:100'"),
        ("fixed:2:rows", "unknown policy"),
        ("auto:cooldown=4", "NAME one of drift_breaches"),
        ("auto:every_batches=2", "unknown policy"),  # not an auto control
        ("auto:budget=-1", "VALUE a whole number"),
        ("auto:budget=1:budget=2", "unknown policy"),
        ("auto:drift_breaches=4", "drift_check: M of N needs 0 <= M <= N and N >= 1, got 4 of 3"),
        ("auto:approval=2", "approval 0 or 1"),
    ],
)
def test_bad_policies_are_refused_with_the_spelling_that_works(text, message):
    with pytest.raises(ValueError, match=message):
        RetrainPolicy.parse(text)


def test_only_the_fixed_policy_changes_the_retrain_runs_config():
    fixed = RetrainPolicy.parse("fixed:2:3000").run_config()["ops"]
    assert fixed["training_set"]["config"] == {"window": "rows", "window_rows": 3000}
    assert fixed["candidate_model"]["config"] == {"search": False}
    for text in ("auto", "periodic:2", "volume:100", "never"):
        assert RetrainPolicy.parse(text).run_config() == {}
