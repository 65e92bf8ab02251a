"""The catalogue of bad input: each delivery's verdict, message and quarantine row, and proof
(by comparing table contents before and after) that no stored row changed and none was lost.

Baseline: batches 0 and 1 and the labels of batch 0 taken in. Each case then delivers one file
(or re-delivers one) and materializes the ingest assets for its partition, downstream SQL
models included, in a copy of that state.
"""

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from cl_assets.defs.features.assets import sql_model_assets, suites_for
from cl_assets.defs.ingest.assets import batch_labels_asset, raw_batches_asset
from cl_assets.defs.ingest.landing_zone import Landing
from cl_assets.defs.partitions import batches
from cl_assets.defs.resources import Dataset, Warehouse
from cl_assets.lib import landing, scenario, warehouse
from cl_assets.settings import StatePaths

ROWS = 200
SEED = 11
TARGET = scenario.spec().target
DATA_TABLES = ("raw_batches", "stg_batches", "batch_features", "labels")
AUDIT_TABLES = ("validation_results", "batch_deliveries", "quarantine", "quarantined_rows")


def features(batch: int) -> pd.DataFrame:
    return scenario.generate_batch(batch, ROWS, SEED).drop(columns=[TARGET])


def labels(batch: int) -> pd.DataFrame:
    return scenario.generate_batch(batch, ROWS, SEED)[["customer_id", TARGET]]


@dataclass
class State:
    paths: StatePaths
    instance: dg.DagsterInstance
    max_file_mb: float = 256

    def resources(self) -> dict:
        return {
            "warehouse": Warehouse(path=str(self.paths.warehouse)),
            "landing_zone": Landing(path=str(self.paths.landing), max_file_mb=self.max_file_mb),
            "dataset": Dataset(spec_path=str(self.paths.dataset_spec), suites_dir=str(self.paths.suites)),
        }

    def ingest(self, kind: str, batch_id: str) -> dg.ExecuteInProcessResult:
        dataset = self.resources()["dataset"]
        assets = [raw_batches_asset(dataset.suite("raw_batches")), batch_labels_asset(dataset.suite("batch_labels"))]
        selection = ["batch_labels"] if kind == "labels" else ["raw_batches", "stg_batches", "batch_features"]
        self.instance.add_dynamic_partitions(batches.name, [batch_id])
        return dg.materialize(
            [*assets, *sql_model_assets(suites_for(dataset))],
            selection=selection,
            partition_key=batch_id,
            instance=self.instance,
            resources=self.resources(),
            raise_on_error=False,
        )

    def land(self, kind: str, name: str, frame: pd.DataFrame) -> Path:
        return landing.write(frame, self.paths.landing / kind / name)

    def tables(self) -> dict[str, pd.DataFrame]:
        with warehouse.connect(self.paths.warehouse, read_only=True) as con:
            return {
                t: warehouse.fetch_df(con, f"select * from {t} order by all")
                for t in (*DATA_TABLES, *AUDIT_TABLES)
                if warehouse.table_exists(con, t)
            }

    def sql(self, text: str, params=None) -> list[dict]:
        with warehouse.connect(self.paths.warehouse, read_only=True) as con:
            return warehouse.fetch_records(con, text, params)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("baseline")
    paths = StatePaths.resolve(home)
    paths.prepare()
    scenario.spec().save(paths.dataset_spec)
    state = State(paths, dg.DagsterInstance.from_config(str(paths.dagster_home)))
    for b in (0, 1):
        state.land("batches", f"batch_{b:04d}.csv", features(b))
        assert state.ingest("batches", f"batch_{b:04d}").success
    state.land("labels", "batch_0000.csv", labels(0))
    assert state.ingest("labels", "batch_0000").success
    return home


@pytest.fixture
def state(baseline, tmp_path) -> State:
    home = tmp_path / "state"
    shutil.copytree(baseline, home, symlinks=True)
    paths = StatePaths.resolve(home)
    return State(paths, dg.DagsterInstance.from_config(str(paths.dagster_home)))


# --- the cases: each lands its file(s) and returns (kind, batch_id) --------------------------


def _csv_text(state, name, text: bytes, kind="batches"):
    path = state.paths.landing / kind / name
    path.write_bytes(text)
    return kind, Path(name).stem


def missing_column(s):
    s.land("batches", "batch_0002.csv", features(2).drop(columns=["age"]))
    return "batches", "batch_0002"


def extra_column(s):
    s.land("batches", "batch_0002.csv", features(2).assign(promo_code="X1"))
    return "batches", "batch_0002"


def renamed_column(s):
    s.land("batches", "batch_0002.csv", features(2).rename(columns={"monthly_spend": "spend"}))
    return "batches", "batch_0002"


def text_in_numeric_column(s):
    frame = features(2).astype({"monthly_spend": object})
    frame.loc[::7, "monthly_spend"] = "twelve"
    s.land("batches", "batch_0002.csv", frame)
    return "batches", "batch_0002"


def all_null_column(s):
    s.land("batches", "batch_0002.csv", features(2).assign(discount_pct=np.nan))
    return "batches", "batch_0002"


def nulls_over_threshold(s):
    frame = features(2)
    frame.loc[: ROWS // 5, "tenure_months"] = np.nan
    s.land("batches", "batch_0002.csv", frame)
    return "batches", "batch_0002"


def nan_and_inf(s):
    frame = features(2)
    frame.loc[3, "monthly_spend"] = np.inf
    frame.loc[4, "monthly_spend"] = -np.inf
    frame.loc[5, "monthly_spend"] = np.nan
    s.land("batches", "batch_0002.csv", frame)
    return "batches", "batch_0002"


def value_out_of_range(s):
    frame = features(2)
    frame.loc[10:12, "age"] = 250
    s.land("batches", "batch_0002.csv", frame)
    return "batches", "batch_0002"


def unseen_category(s):
    frame = features(2)
    frame.loc[::4, "channel"] = "fax"
    s.land("batches", "batch_0002.csv", frame)
    return "batches", "batch_0002"


def empty_file(s):
    return _csv_text(s, "batch_0002.csv", b"")


def header_only_file(s):
    return _csv_text(s, "batch_0002.csv", (",".join(features(2).columns) + "\n").encode())


def wrong_delimiter(s):
    return _csv_text(s, "batch_0002.csv", features(2).to_csv(index=False, sep=";").encode())


def not_utf8(s):
    frame = features(2)
    frame.loc[0, "plan"] = "prémium"
    return _csv_text(s, "batch_0002.csv", frame.to_csv(index=False).encode("latin-1"))


def truncated_csv(s):
    text = features(2).to_csv(index=False).encode()
    cut = len(text) * 3 // 5
    while text[cut - 1 : cut] in (b"\n", b","):
        cut += 1
    return _csv_text(s, "batch_0002.csv", text[:cut])


def corrupt_parquet(s):
    path = s.land("batches", "batch_0002.parquet", features(2))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return "batches", "batch_0002"


def same_file_twice(s):
    return "batches", "batch_0001"  # its file is still in the landing folder, unchanged


def duplicate_ids(s):
    frame = features(2)
    frame.loc[1, "customer_id"] = frame.loc[0, "customer_id"]
    s.land("batches", "batch_0002.csv", frame)
    return "batches", "batch_0002"


def ids_seen_in_earlier_batches(s):
    s.land("batches", "batch_0002.csv", features(0).assign(event_time_utc=features(2)["event_time_utc"]))
    return "batches", "batch_0002"


def labels_for_unknown_ids(s):
    frame = labels(1)
    frame.loc[:4, "customer_id"] = frame.loc[:4, "customer_id"] + 9_000_000
    s.land("labels", "batch_0001.csv", frame)
    return "labels", "batch_0001"


def conflicting_labels_for_one_id(s):
    frame = labels(1)
    frame = pd.concat([frame, frame.head(1).assign(**{TARGET: 1 - frame.loc[0, TARGET]})], ignore_index=True)
    s.land("labels", "batch_0001.csv", frame)
    return "labels", "batch_0001"


def conflicting_relabel(s):
    frame = labels(0)
    frame.loc[:9, TARGET] = 1 - frame.loc[:9, TARGET]
    path = s.land("labels", "batch_0000.csv", frame)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    return "labels", "batch_0000"


def label_not_binary(s):
    s.land("labels", "batch_0001.csv", labels(1).assign(**{TARGET: 2}))
    return "labels", "batch_0001"


def timestamps_in_the_future(s):
    frame = features(2)
    frame.loc[:2, "event_time_utc"] = pd.Timestamp("2099-01-01")
    s.land("batches", "batch_0002.csv", frame)
    return "batches", "batch_0002"


def timestamps_far_out_of_order(s):
    frame = features(2)
    frame.loc[:2, "event_time_utc"] = scenario.batch_time(0) - pd.Timedelta(days=400)
    s.land("batches", "batch_0002.csv", frame)
    return "batches", "batch_0002"


def batch_id_leaving_the_folder(s):
    (s.paths.landing / "x.csv").write_text(features(2).to_csv(index=False))
    return "batches", "../x"


def absolute_path_as_batch_id(s):
    return "batches", str(s.paths.landing / "batches" / "batch_0001")


def symlink_out_of_the_folder(s):
    outside = s.paths.home / "outside.csv"
    outside.write_text(features(2).to_csv(index=False))
    (s.paths.landing / "batches" / "batch_0002.csv").symlink_to(outside)
    return "batches", "batch_0002"


def feature_equals_target(s):
    leaked = features(2).assign(support_calls=labels(2)[TARGET].to_numpy())
    s.land("batches", "batch_0002.csv", leaked)
    assert s.ingest("batches", "batch_0002").success  # in range: the features alone look fine
    s.land("labels", "batch_0002.csv", labels(2))
    return "labels", "batch_0002"


def file_over_size_bound(s):
    s.max_file_mb = 0.01
    s.land("batches", "batch_0002.csv", features(2))
    return "batches", "batch_0002"


def _proposed_suite(s):
    """The suite `cl replay` proposes from a first batch, in place of the demo's hand-set ranges."""
    from cl_assets.lib import expectations

    suite = expectations.infer_suite(features(0), scenario.spec())
    s.paths.suites.mkdir(parents=True, exist_ok=True)
    (s.paths.suites / "raw_batches.json").write_text(json.dumps(suite))


def huge_magnitude_with_a_proposed_suite(s):
    _proposed_suite(s)
    frame = features(2)
    frame.loc[7, "monthly_spend"] = 1e308
    s.land("batches", "batch_0002.csv", frame)
    return "batches", "batch_0002"


def infinity_text_with_a_proposed_suite(s):
    _proposed_suite(s)
    frame = features(2).astype({"tenure_months": object})
    frame.loc[3, "tenure_months"], frame.loc[4, "tenure_months"] = "-inf", "Infinity"
    s.land("batches", "batch_0002.csv", frame)
    return "batches", "batch_0002"


def text_ids_among_integer_ids(s):
    frame = features(2).astype({"customer_id": object})
    frame.loc[5, "customer_id"] = "r3500"
    s.land("batches", "batch_0002.csv", frame)
    return "batches", "batch_0002"


def repeated_header_column(s):
    frame = features(2)
    text = frame.to_csv(index=False).splitlines()
    text[0] = text[0].replace("tenure_months", "age")
    return _csv_text(s, "batch_0002.csv", ("\n".join(text) + "\n").encode())


def header_repeated_as_a_row(s):
    text = features(2).to_csv(index=False).splitlines()
    text.insert(50, text[0])  # two exports concatenated
    return _csv_text(s, "batch_0002.csv", ("\n".join(text) + "\n").encode())


def byte_order_mark(s):
    return _csv_text(s, "batch_0002.csv", features(2).to_csv(index=False).encode("utf-8-sig"))


def crlf_line_endings(s):
    return _csv_text(s, "batch_0002.csv", features(2).to_csv(index=False, lineterminator="\r\n").encode())


def mixed_time_formats(s):
    frame = features(2).astype({"event_time_utc": object})
    times = pd.to_datetime(features(2)["event_time_utc"])
    frame.loc[::3, "event_time_utc"] = times[::3].dt.strftime("%Y-%m-%dT%H:%M:%S+02:00")
    frame.loc[1::3, "event_time_utc"] = times[1::3].dt.strftime("%Y-%m-%d %H:%M")
    s.land("batches", "batch_0002.csv", frame)
    return "batches", "batch_0002"


def unparseable_times(s):
    frame = features(2).astype({"event_time_utc": object})
    frame.loc[:3, "event_time_utc"] = "last tuesday"
    s.land("batches", "batch_0002.csv", frame)
    return "batches", "batch_0002"


def whitespace_in_a_header_name(s):
    s.land("batches", "batch_0002.csv", features(2).rename(columns={"age": " age"}))
    return "batches", "batch_0002"


def blank_lines_only(s):
    return _csv_text(s, "batch_0002.csv", b"\n\n\n")


def labels_missing_the_target_column(s):
    s.land("labels", "batch_0001.csv", labels(1).rename(columns={TARGET: "outcome"}))
    return "labels", "batch_0001"


def labels_header_only(s):
    return _csv_text(s, "batch_0001.csv", f"customer_id,{TARGET}\n".encode(), kind="labels")


def labels_as_words(s):
    frame = labels(1).astype({TARGET: object})
    frame[TARGET] = frame[TARGET].map({0: "no", 1: "yes"})
    s.land("labels", "batch_0001.csv", frame)
    return "labels", "batch_0001"


def labels_of_a_quarantined_batch(s):
    assert not s.ingest(*value_out_of_range(s)).success
    s.land("labels", "batch_0002.csv", labels(2))
    return "labels", "batch_0002"


@dataclass(frozen=True)
class Case:
    make: callable
    verdict: str  # reject | warn | accept
    rule: str | None = None  # the check (or file rule) that decides it
    column: str | None = None
    words: tuple[str, ...] = field(default_factory=tuple)  # the message names these


CASES = [
    Case(missing_column, "reject", "columns_match_contract", None, ("missing ['age']",)),
    Case(extra_column, "reject", "columns_match_contract", None, ("unexpected ['promo_code']",)),
    Case(
        renamed_column, "reject", "columns_match_contract", None, ("missing ['monthly_spend']", "unexpected ['spend']")
    ),
    Case(text_in_numeric_column, "reject", "monthly_spend_type", "monthly_spend", ("twelve",)),
    Case(all_null_column, "reject", "discount_pct_not_null", "discount_pct", ("discount_pct",)),
    Case(nulls_over_threshold, "reject", "tenure_months_not_null", "tenure_months", ("tenure_months",)),
    Case(nan_and_inf, "reject", "monthly_spend_in_range", "monthly_spend", ("inf",)),
    Case(value_out_of_range, "reject", "age_in_range", "age", ("250",)),
    Case(unseen_category, "warn", "channel_in_allowed_set", "channel", ("fax",)),
    Case(empty_file, "reject", "file_not_empty", None, ("empty",)),
    Case(header_only_file, "reject", "row_count_in_bounds", None, ("0",)),
    Case(wrong_delimiter, "reject", "file_parseable", None, ("';'",)),
    Case(not_utf8, "reject", "file_is_utf8", None, ("UTF-8",)),
    Case(truncated_csv, "reject", "file_parseable", None, ("fields",)),
    Case(corrupt_parquet, "reject", "file_parseable", None, ("Parquet",)),
    Case(same_file_twice, "accept"),
    Case(duplicate_ids, "reject", "customer_id_unique", "customer_id", ("customer_id",)),
    Case(ids_seen_in_earlier_batches, "reject", "customer_id_not_seen_before", "customer_id", ("customer_id",)),
    Case(labels_for_unknown_ids, "reject", "entity_id_known", "entity_id", ("9100000",)),
    Case(conflicting_labels_for_one_id, "reject", "label_not_conflicting", "labels_per_id", ("labels_per_id",)),
    Case(conflicting_relabel, "reject", "label_matches_stored_label", None, ("label",)),
    Case(label_not_binary, "reject", "label_in_allowed_set", "label", ("2",)),
    Case(timestamps_in_the_future, "reject", "event_time_utc_not_future_or_far_past", "event_time_utc", ("2099",)),
    Case(timestamps_far_out_of_order, "reject", "event_time_utc_not_future_or_far_past", "event_time_utc", ("2024",)),
    Case(batch_id_leaving_the_folder, "reject", "path_in_landing_folder", None, ("../x",)),
    Case(absolute_path_as_batch_id, "reject", "path_in_landing_folder", None, ("not a plain file name",)),
    Case(symlink_out_of_the_folder, "reject", "path_in_landing_folder", None, ("symbolic link",)),
    Case(file_over_size_bound, "reject", "file_size_bound", None, ("bytes",)),
    Case(feature_equals_target, "reject", "no_feature_equals_label", "leaking_feature", ("support_calls",)),
    Case(
        huge_magnitude_with_a_proposed_suite,
        "reject",
        "monthly_spend_finite_and_plausible",
        "monthly_spend",
        ("1e+308",),
    ),
    Case(
        infinity_text_with_a_proposed_suite, "reject", "tenure_months_finite_and_plausible", "tenure_months", ("inf",)
    ),
    Case(text_ids_among_integer_ids, "reject", "id_type_matches_stored", None, ("customer_id", "'r3500'", "BIGINT")),
    Case(repeated_header_column, "reject", "columns_unique", None, ("['age']",)),
    Case(header_repeated_as_a_row, "reject", "id_type_matches_stored", None, ("'customer_id' (row 50)",)),
    Case(byte_order_mark, "accept"),
    Case(crlf_line_endings, "accept"),
    Case(mixed_time_formats, "accept"),
    Case(unparseable_times, "reject", "event_time_utc_not_null", "event_time_utc", ("event_time_utc",)),
    Case(whitespace_in_a_header_name, "reject", "columns_match_contract", None, ("unexpected [' age']",)),
    Case(blank_lines_only, "reject", "file_not_empty", None, ("no header",)),
    Case(labels_missing_the_target_column, "reject", "columns_present", None, (TARGET,)),
    Case(labels_header_only, "reject", "row_count_in_bounds", None, ("0",)),
    Case(labels_as_words, "reject", "label_in_allowed_set", "label", ("'no'",)),
    Case(labels_of_a_quarantined_batch, "reject", "entity_id_known", "entity_id", ("entity_id",)),
]


def _rows_of(frame: pd.DataFrame, batch_ids) -> pd.DataFrame:
    return frame[frame["batch_id"].isin(batch_ids)].reset_index(drop=True)


@pytest.mark.parametrize("case", CASES, ids=[c.make.__name__ for c in CASES])
def test_bad_input(state, case):
    before = state.tables()
    kind, batch_id = case.make(state)
    asset = "batch_labels" if kind == "labels" else "raw_batches"
    result = state.ingest(kind, batch_id)
    after = state.tables()

    # audit tables only grow
    for table in AUDIT_TABLES:
        if table in before:
            merged = before[table].merge(after[table], how="left", indicator=True)
            assert (merged["_merge"] == "both").all(), f"{table} lost or changed rows"
    # data of other batches (and, on rejection, of this batch too) is untouched
    for table in DATA_TABLES:
        kept = set(before[table]["batch_id"]) - ({batch_id} if case.verdict != "reject" else set())
        pd.testing.assert_frame_equal(_rows_of(before[table], kept), _rows_of(after[table], kept), obj=table)

    (delivery,) = state.sql(
        "select * from batch_deliveries where batch_id = ? and asset = ? order by validated_at desc limit 1",
        [batch_id, asset],
    )
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    if case.verdict == "reject":
        assert delivery["status"] == "quarantined"
        assert not result.success  # the blocking check stopped the run...
        materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
        assert materialized == {asset}  # ...before anything downstream read the batch
        quarantined = state.sql("select * from quarantine where delivery_id = ?", [delivery["delivery_id"]])
        rows = [r for r in quarantined if r["rule"] == case.rule]
        assert len(rows) == 1, [(r["rule"], r["reason"]) for r in quarantined]
        row = rows[0]
        message = delivery["reason"]
        assert all(w in message for w in case.words), message
        if case.column:
            assert case.column in message and row["column_name"] == case.column
        failed = [name for name, e in checks.items() if not e.passed]
        assert failed and all(checks[name].severity == dg.AssetCheckSeverity.ERROR for name in failed[:1])
        if case.rule in checks:
            evaluation = checks[case.rule]
            assert not evaluation.passed and evaluation.metadata["batch_id"].value == batch_id
            assert {"observed", "threshold", "unexpected_count", "unexpected_percent", "sample"} <= set(
                evaluation.metadata
            )
        else:  # a file that could not be read: its file check says which rule it broke
            assert checks["file_is_readable"].metadata["rule"].value == case.rule
    else:
        assert result.success
        assert delivery["status"] == ("accepted_with_warnings" if case.verdict == "warn" else "accepted")
        stored = _rows_of(after["raw_batches" if kind == "batches" else "labels"], [batch_id])
        assert len(stored) == ROWS
        if case.verdict == "warn":
            warned = checks[case.rule]
            assert not warned.passed and warned.severity == dg.AssetCheckSeverity.WARN
            assert case.rule in delivery["reason"]
            assert any(w in str(warned.metadata["sample"].value) for w in case.words)


def test_a_corrected_batch_is_accepted_after_a_rejection(state):
    value_out_of_range(state)
    assert not state.ingest("batches", "batch_0002").success
    path = state.land("batches", "batch_0002.csv", features(2))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert state.ingest("batches", "batch_0002").success
    statuses = state.sql(
        "select status from batch_deliveries where batch_id = 'batch_0002' and asset = 'raw_batches' "
        "order by validated_at"
    )
    assert [s["status"] for s in statuses] == ["quarantined", "accepted"]
    assert state.sql("select count(*) as n from batch_features where batch_id = 'batch_0002'")[0]["n"] == ROWS
    kept = state.sql("select count(*) as n from quarantined_rows where batch_id = 'batch_0002'")[0]["n"]
    assert kept == ROWS  # the rejected delivery's rows are kept as received


def test_a_corrected_batch_under_a_new_name_is_accepted(state):
    value_out_of_range(state)
    assert not state.ingest("batches", "batch_0002").success
    state.land("batches", "batch_0002_fixed.csv", features(2))
    assert state.ingest("batches", "batch_0002_fixed").success
    assert state.sql("select count(*) as n from raw_batches where batch_id = 'batch_0002_fixed'")[0]["n"] == ROWS


def test_a_features_suite_failure_quarantines_the_features_and_stops_downstream(state):
    strict = state.resources()["dataset"].suite("batch_features")
    strict["expectations"][0]["kwargs"]["max_value"] = ROWS - 1  # fewer rows than a batch has
    state.paths.suites.mkdir(parents=True, exist_ok=True)
    (state.paths.suites / "batch_features.json").write_text(json.dumps(strict))
    before = state.tables()
    state.land("batches", "batch_0002.csv", features(2))
    result = state.ingest("batches", "batch_0002")
    assert not result.success
    after = state.tables()
    assert len(_rows_of(after["raw_batches"], ["batch_0002"])) == ROWS  # the raw batch passed its suite
    assert _rows_of(after["batch_features"], ["batch_0002"]).empty
    pd.testing.assert_frame_equal(before["batch_features"], after["batch_features"])
    (row,) = state.sql("select * from quarantine where asset = 'batch_features'")
    assert row["batch_id"] == "batch_0002" and row["rule"] == "row_count_in_bounds"
    assert "features of batch 'batch_0002'" in {
        e.description.split(":")[0] for e in result.get_asset_check_evaluations() if not e.passed
    }


def test_times_with_offsets_are_stored_in_utc_and_other_formats_are_refused(state):
    """ISO 8601 times with an offset are converted to UTC (validated and stored alike), naive
    ones are UTC; a batch whose times are in another format is refused naming the rows."""
    kind, batch_id = mixed_time_formats(state)
    assert state.ingest(kind, batch_id).success
    original = pd.to_datetime(features(2)["event_time_utc"])
    stored = state.sql("select entity_id, event_time from stg_batches where batch_id = ? order by 1", [batch_id])
    by_id = {int(r["entity_id"]): pd.Timestamp(r["event_time"]) for r in stored}
    ids = features(2)["customer_id"]
    for i in (0, 1, 2, 3):  # rows 0 and 3 were written at +02:00, 1 without seconds, 2 as given
        expected = (
            original[i] - pd.Timedelta(hours=2) if i % 3 == 0 else original[i].floor("min" if i % 3 == 1 else "s")
        )
        assert by_id[int(ids[i])] == expected, i

    frame = features(3).astype({"event_time_utc": object})
    frame.loc[[4, 9], "event_time_utc"] = ["05/01/2026 10:00", "2026-13-45 10:00"]
    state.land("batches", "batch_0003.csv", frame)
    assert not state.ingest("batches", "batch_0003").success
    (delivery,) = state.sql("select reason from batch_deliveries where batch_id = 'batch_0003'")
    assert "event_time_utc_not_null" in delivery["reason"] and "2 rows" in delivery["reason"]
