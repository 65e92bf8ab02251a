"""Column roles of a user's dataset: inference by dtype, the errors that name the column, save/load."""

import pandas as pd
import pytest

from cl_assets.lib.dataset import DatasetError, DatasetSpec, infer_spec


def frame(**extra) -> pd.DataFrame:
    n = 6
    base = {
        "cid": range(n),
        "ts": pd.date_range("2026-01-01", periods=n, freq="h"),
        "y": [0, 1, 0, 1, 1, 0],
        "amount": [1.5, 2.0, 3.25, 4.0, 5.0, 6.0],
        "visits": [1, 2, 3, 4, 5, 6],
        "colour": ["red", "blue", "red", "green", "blue", "red"],
        "store_no": [10, 20, 10, 30, 20, 10],
        "area": [1, 2, 1, 2, 1, 2],
    }
    return pd.DataFrame({**base, **extra})


def test_roles_by_dtype_forced_and_named():
    spec = infer_spec(
        frame(),
        name="shop",
        target="y",
        id_column="cid",
        time_column="ts",
        slice_column="area",
        categorical=["store_no"],
    )
    assert spec.name == "shop" and spec.target == "y" and spec.id_column == "cid" and spec.time_column == "ts"
    assert spec.numeric == ["amount", "visits"]
    assert spec.categorical == ["colour", "store_no", "area"]  # text by dtype, forced, slice (numeric dtype)
    assert spec.slice_column == "area"
    for excluded in ("y", "cid", "ts"):
        assert excluded not in spec.features
    assert spec.raw_columns == ["cid", "ts", "amount", "visits", "colour", "store_no", "area"]


def test_without_named_roles_every_other_column_is_a_feature():
    spec = infer_spec(frame().drop(columns=["cid", "ts"]), name="shop", target="y")
    assert spec.id_column == "row_id" and spec.time_column is None and spec.slice_column is None
    assert spec.numeric == ["amount", "visits", "store_no", "area"]
    assert spec.categorical == ["colour"]


@pytest.mark.parametrize("labels", [[True, False, True, False, True, True], [0.0, 1.0, 0.0, 1.0, 1.0, 0.0]])
def test_boolean_and_float_0_1_targets_are_accepted(labels):
    spec = infer_spec(frame(y=labels), name="s", target="y", id_column="cid", time_column="ts")
    assert "y" not in spec.features


def test_boolean_feature_is_categorical():
    spec = infer_spec(frame(flag=[True, False] * 3), name="s", target="y", id_column="cid", time_column="ts")
    assert "flag" in spec.categorical and "flag" not in spec.numeric


@pytest.mark.parametrize(
    ("kwargs", "column"),
    [
        ({"target": "label"}, "label"),
        ({"target": "y", "id_column": "customer"}, "customer"),
        ({"target": "y", "time_column": "when"}, "when"),
        ({"target": "y", "slice_column": "region"}, "region"),
        ({"target": "y", "categorical": ["kind"]}, "kind"),
    ],
)
def test_a_named_column_missing_from_the_file(kwargs, column):
    with pytest.raises(DatasetError, match=f"'{column}' is not in the file"):
        infer_spec(frame(), name="s", **kwargs)


@pytest.mark.parametrize("labels", [[0, 1, 2, 0, 1, 0], ["yes", "no", "yes", "no", "no", "yes"], [0, 1, -1, 0, 1, 0]])
def test_a_target_that_is_not_0_1(labels):
    with pytest.raises(DatasetError, match="target column 'y' must hold 0/1"):
        infer_spec(frame(y=labels), name="s", target="y", id_column="cid", time_column="ts")


@pytest.mark.parametrize("reserved", ["batch_id", "arrived_at", "slice", "entity_id"])
def test_a_reserved_column_name(reserved):
    with pytest.raises(DatasetError, match=f"column '{reserved}' uses a name reserved"):
        infer_spec(frame(**{reserved: [1, 2, 3, 4, 5, 6]}), name="s", target="y", id_column="cid", time_column="ts")


def test_a_reserved_name_as_a_role():
    data = frame().rename(columns={"cid": "entity_id"})
    with pytest.raises(DatasetError, match="'entity_id'"):
        infer_spec(data, name="s", target="y", id_column="entity_id", time_column="ts")


def test_a_high_cardinality_text_column():
    data = frame(comment=[f"note {i}" for i in range(6)])
    with pytest.raises(DatasetError, match="column 'comment' is text with 6 distinct values"):
        infer_spec(data, name="s", target="y", id_column="cid", time_column="ts", max_categories=5)
    # the same column is fine when named categorical, or under the limit
    spec = infer_spec(data, name="s", target="y", id_column="cid", time_column="ts", categorical=["comment"])
    assert "comment" in spec.categorical
    assert "comment" in infer_spec(data, name="s", target="y", id_column="cid", time_column="ts").categorical


def test_only_roles_and_no_features():
    data = frame()[["cid", "ts", "y"]]
    with pytest.raises(DatasetError, match="no feature columns"):
        infer_spec(data, name="s", target="y", id_column="cid", time_column="ts")


@pytest.mark.parametrize(
    ("numeric", "categorical", "message"),
    [(["a", "b"], ["b"], r"\['b'\] are named both"), (["a", "t"], ["c"], "target column 't' is also a feature")],
)
def test_validate_rejects_contradictory_specs(numeric, categorical, message):
    spec = DatasetSpec(name="s", target="t", id_column="i", numeric=numeric, categorical=categorical)
    with pytest.raises(DatasetError, match=message):
        spec.validate()


def test_save_and_load_round_trip(tmp_path):
    spec = infer_spec(frame(), name="shop", target="y", id_column="cid", time_column="ts", slice_column="colour")
    path = tmp_path / "nested" / "dataset.json"
    spec.save(path)
    loaded = DatasetSpec.load(path)
    assert loaded == spec
    assert loaded.sql_vars() == spec.sql_vars()
    assert loaded.sql_vars()["slice_column"] == "colour"
