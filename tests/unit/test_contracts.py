"""Check names and descriptions from suites; the rules a landed file must meet to be read."""

import pandas as pd
import pytest

from cl_assets.lib import contracts


def suite(*expectations) -> dict:
    return {"name": "s", "expectations": list(expectations)}


def exp(kind: str, severity: str = "error", **kwargs) -> dict:
    return {"type": kind, "kwargs": kwargs, "meta": {"severity": severity, "notes": "why it matters"}}


def test_checks_are_named_after_column_and_rule_and_are_unique():
    checks = contracts.expectation_checks(
        suite(
            exp("expect_column_values_to_not_be_null", column="Monthly Spend ($)"),
            exp("expect_column_values_to_not_be_null", column="Monthly Spend ($)", mostly=0.9),
            exp("expect_table_row_count_to_be_between", min_value=1),
            exp("expect_column_values_to_match_regex", severity="warning", column="email", regex="@"),
        )
    )
    assert [c.name for c in checks] == [
        "monthly_spend_not_null",
        "monthly_spend_not_null_2",
        "row_count_in_bounds",
        "email_column_values_to_match_regex",
    ]
    assert [c.index for c in checks] == [0, 1, 2, 3]
    assert checks[3].severity == "warning" and "is reported, the batch is used" in checks[3].description
    assert "Column 'Monthly Spend ($)'" in checks[0].description and "why it matters" in checks[0].description


def test_meta_check_name_overrides_the_derived_name():
    e = exp("expect_column_values_to_not_be_in_set", column="id", value_set=[])
    e["meta"]["check_name"] = "id not seen before"
    (check,) = contracts.expectation_checks(suite(e))
    assert check.name == "id_not_seen_before"


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "data, rule",
    [
        (b"", "file_not_empty"),
        (b"a;b\n1;2\n", "file_parseable"),
        (b"a,b\n1,2\n3\n", "file_parseable"),
        (b"a,b\n1,2,3\n", "file_parseable"),
        (b'a,b\n1,"open\n', "file_parseable"),
        ("a,b\n1,é\n".encode("latin-1"), "file_is_utf8"),
    ],
)
def test_unreadable_csv_files_name_their_rule(tmp_path, data, rule):
    with pytest.raises(contracts.BadFile) as caught:
        contracts.read_landed(write(tmp_path, "b.csv", data), tmp_path, 10_000)
    assert caught.value.rule == rule and "'b.csv'" in caught.value.reason


def test_a_good_csv_is_read_and_a_header_only_one_has_no_rows(tmp_path):
    assert contracts.read_landed(write(tmp_path, "b.csv", b"a,b\n1,x\n"), tmp_path, 100).to_dict("list") == {
        "a": [1],
        "b": ["x"],
    }
    assert contracts.read_landed(write(tmp_path, "h.csv", b"a,b\n"), tmp_path, 100).empty


def test_size_bound_symlinks_and_paths_outside_are_refused(tmp_path):
    inside = tmp_path / "landing"
    inside.mkdir()
    big = write(inside, "big.csv", b"a\n" + b"1\n" * 100)
    with pytest.raises(contracts.BadFile, match="over the bound") as caught:
        contracts.read_landed(big, inside, 50)
    assert caught.value.rule == "file_size_bound"
    outside = write(tmp_path, "outside.csv", b"a\n1\n")
    (inside / "link.csv").symlink_to(outside)
    for path in (inside / "link.csv", outside, inside / ".." / "outside.csv"):
        with pytest.raises(contracts.BadFile) as caught:
            contracts.read_landed(path, inside, 10_000)
        assert caught.value.rule == "path_in_landing_folder"


def test_raw_view_parses_text_times_and_keeps_ordinals():
    frame = pd.DataFrame({"id": [1, 2], "t": ["2026-01-01T00:00:00Z", "not a time"], "day": [3, 4]})
    view = contracts.raw_view(frame, "id", "t")
    assert view["id"].tolist() == ["1", "2"]
    assert view["t"].iloc[0] == pd.Timestamp("2026-01-01") and pd.isna(view["t"].iloc[1])
    assert contracts.raw_view(frame, "id", "day")["day"].tolist() == [3, 4]


def test_labels_view_counts_conflicts_and_joins_stored_labels():
    frame = pd.DataFrame({"cid": [1, 1, 2, 3], "y": [0, 1, 1, 0]})
    stored = pd.DataFrame({"entity_id": ["3"], "label": [1]})
    view = contracts.labels_view(frame, "cid", "y", stored)
    assert view["labels_per_id"].tolist() == [2, 2, 1, 1]
    assert view["stored_label"].tolist()[:3] == [pd.NA, pd.NA, pd.NA] and view["stored_label"].iloc[3] == 1
    with pytest.raises(contracts.BadFile, match="'y'"):
        contracts.labels_view(frame.drop(columns=["y"]), "cid", "y", stored)


def test_leaking_features_are_the_ones_that_separate_the_labels_perfectly():
    rng = pd.Series(range(200))
    label = (rng % 3 == 0).astype(int)
    labeled = pd.DataFrame(
        {
            "label": label,
            "copy": label * 5.0,  # the target, rescaled
            "noise": (rng * 7919 % 101).astype(float),
            "flag": label.map({0: "no", 1: "yes"}),
            "plan": (rng % 4).map({0: "a", 1: "b", 2: "c", 3: "d"}),
            "row_name": rng.astype(str),  # one level per row: purity means nothing
        }
    )
    assert contracts.leaking_features(labeled, ["copy", "noise"], ["flag", "plan", "row_name"]) == ["copy", "flag"]
    assert contracts.leaking_features(labeled.head(20), ["copy"], ["flag"]) == []  # too few rows to tell
