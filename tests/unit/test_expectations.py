"""Great Expectations suites, validated for real: inferred suites and the repo's raw_batches suite."""

import numpy as np
import pandas as pd
import pytest

from cl_assets.lib import contracts, expectations, scenario
from cl_assets.lib.expectations import ERROR, WARNING
from cl_assets.lib.scenario import STORY
from cl_assets.settings import PROJECT_ROOT

SPEC = scenario.spec()
# Values the ingest asset computes from the warehouse: here, a batch with no history before it.
PARAMS = {
    "ids_seen_before": [],
    "earliest_event_time": pd.Timestamp("1970-01-01"),
    "latest_event_time": pd.Timestamp("2100-01-01"),
}


def validate(frame: pd.DataFrame, suite: dict, params: dict = PARAMS) -> list[expectations.Outcome]:
    return expectations.validate(contracts.raw_view(frame, SPEC.id_column, SPEC.time_column), suite, params)


def features(batch: int) -> pd.DataFrame:
    return scenario.generate_batch(batch).drop(columns=[SPEC.target])


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return features(0)


@pytest.fixture(scope="module")
def suite(reference) -> dict:
    return expectations.infer_suite(reference, SPEC)


def failures(frame: pd.DataFrame, suite: dict) -> list[expectations.Outcome]:
    return [o for o in validate(frame, suite) if not o.success]


def test_inferred_suite_passes_on_its_own_batch(reference, suite):
    outcomes = validate(reference, suite)
    assert len(outcomes) == len(suite["expectations"])
    assert all(o.success for o in outcomes), [o.describe() for o in outcomes if not o.success]
    assert not any(o.blocking for o in outcomes)
    kinds = {(e["type"], e["kwargs"].get("column")): e["meta"]["severity"] for e in suite["expectations"]}
    assert kinds[("expect_table_columns_to_match_set", None)] == ERROR
    assert kinds[("expect_column_values_to_be_unique", "customer_id")] == ERROR
    assert kinds[("expect_column_values_to_be_between", "monthly_spend")] == WARNING
    assert kinds[("expect_column_values_to_be_in_set", "channel")] == WARNING


def drop_age(frame):
    return frame.drop(columns=["age"])


def text_in_spend(frame):
    frame = frame.astype({"monthly_spend": object})
    frame.loc[3, "monthly_spend"] = "abc"
    return frame


def duplicate_id(frame):
    frame = frame.copy()
    frame.loc[5, "customer_id"] = frame.loc[4, "customer_id"]
    return frame


def null_id(frame):
    frame = frame.astype({"customer_id": float})
    frame.loc[5, "customer_id"] = np.nan
    return frame


@pytest.mark.parametrize(
    ("corrupt", "column", "rule"),
    [
        (text_in_spend, "monthly_spend", "expect_column_values_to_be_in_type_list"),
        (duplicate_id, "customer_id", "expect_column_values_to_be_unique"),
        (null_id, "customer_id", "expect_column_values_to_not_be_null"),
    ],
)
def test_bad_data_fails_an_error_expectation_naming_column_and_rule(reference, suite, corrupt, column, rule):
    failed = failures(corrupt(reference), suite)
    hits = [o for o in failed if o.column == column and o.expectation == rule]
    assert len(hits) == 1, [o.describe() for o in failed]
    hit = hits[0]
    assert hit.severity == ERROR and hit.blocking
    assert f"column '{column}'" in hit.describe() and rule in hit.describe()
    assert all(o.column == column for o in failed), [o.describe() for o in failed]


def test_a_missing_column_breaks_the_column_contract_naming_it(reference, suite):
    failed = failures(drop_age(reference), suite)
    (contract,) = [o for o in failed if o.expectation == "expect_table_columns_to_match_set"]
    assert contract.blocking and contract.observed == "missing ['age']"
    assert {o.column for o in failed} == {None, "age"}  # age's own rules cannot be evaluated either


def test_row_level_failures_report_counts_and_samples(reference, suite):
    (hit,) = failures(duplicate_id(reference), suite)
    assert hit.unexpected_count == 2
    assert hit.unexpected_percent == pytest.approx(100 * 2 / len(reference))
    assert str(reference.loc[4, "customer_id"]) in hit.sample  # the suite sees ids as text


def test_an_unseen_category_fails_only_a_warning(reference, suite):
    frame = reference.copy()
    frame["channel"] = features(STORY.new_category)["channel"].to_numpy()
    assert (frame["channel"] == "app").any()
    failed = failures(frame, suite)
    assert [(o.column, o.expectation, o.severity) for o in failed] == [
        ("channel", "expect_column_values_to_be_in_set", WARNING)
    ]
    assert not failed[0].blocking
    assert "app" in failed[0].sample and "channel" in failed[0].describe()


def test_values_far_out_of_range_fail_only_a_warning(reference, suite):
    frame = reference.copy()
    frame.loc[: len(frame) // 20, "monthly_spend"] = 10_000.0  # 5% of rows, beyond `mostly`
    failed = failures(frame, suite)
    assert [(o.column, o.expectation, o.severity) for o in failed] == [
        ("monthly_spend", "expect_column_values_to_be_between", WARNING)
    ]


@pytest.fixture(scope="module")
def repo_suite() -> dict:
    return expectations.load_suite(PROJECT_ROOT / "expectations" / "raw_batches.json")


def test_repo_suite_passes_on_the_first_batch(repo_suite, reference):
    outcomes = validate(reference, repo_suite)
    assert len(outcomes) == len(repo_suite["expectations"])
    assert all(o.success for o in outcomes), [o.describe() for o in outcomes if not o.success]


def test_repo_suite_only_warns_on_the_new_category_batch(repo_suite):
    failed = failures(features(STORY.new_category), repo_suite)
    assert failed, "the new category should be noticed"
    assert all(o.severity == WARNING for o in failed), [o.describe() for o in failed]
    assert ("channel", "expect_column_values_to_be_in_set") in {(o.column, o.expectation) for o in failed}


def test_load_suite_rejects_a_file_without_expectations(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"name": "x"}')
    with pytest.raises(ValueError, match="broken.json"):
        expectations.load_suite(path)


def test_suite_parameters_reject_ids_seen_before_and_times_in_the_future(reference, suite):
    seen = {**PARAMS, "ids_seen_before": [str(i) for i in reference[SPEC.id_column].head(3)]}
    broken = {o.expectation for o in validate(reference, suite, seen) if not o.success}
    assert broken == {"expect_column_values_to_not_be_in_set"}
    early = {**PARAMS, "latest_event_time": reference[SPEC.time_column].min()}
    (late,) = [o for o in validate(reference, suite, early) if not o.success]
    assert late.column == SPEC.time_column and late.blocking and late.unexpected_count == len(reference) - 1


def test_a_suite_without_its_parameters_is_refused(reference, suite):
    with pytest.raises(ValueError, match="ids_seen_before"):
        expectations.validate(reference, suite, {})
