"""The middle tier: assets and checks called directly, with `build_asset_context` and real
resources on a real DuckDB file, but no run, no sensor and no job around them."""

from datetime import datetime

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from cl_assets.defs.evaluation.checks import promotion_gate
from cl_assets.defs.monitoring.drift import drift_report
from cl_assets.defs.partitions import batches
from cl_assets.defs.resources import Warehouse
from cl_assets.lib import drift, reference
from cl_assets.lib.warehouse import append_row, connect, fetch_records, replace_rows


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    path = tmp_path / "warehouse.duckdb"
    with connect(path):  # today's schema
        pass
    return Warehouse(path=str(path))


def _rows(warehouse: Warehouse, sql: str, params=None) -> list[dict]:
    with connect(warehouse.path, read_only=True) as con:
        return fetch_records(con, sql, params)


def _frame(rng, rows: int, shift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, rows),
            "c": rng.choice(["a", "b"], rows),
            "slice": rng.choice(["north", "south"], rows),
            "score": rng.uniform(0, 1, rows),
        }
    )


def _drift_metrics(warehouse: Warehouse, batch_id: str, shift: float) -> pd.DataFrame:
    """Real drift statistics of a batch against a reference, stored as drift_metrics stores them."""
    rng = np.random.default_rng(7)
    profiles = reference.build(_frame(rng, 2000, 0.0), ["x"], ["c"], "score", "slice")
    frame = drift.compare(
        profiles, _frame(rng, 1000, shift), drift.Policy(), slice_column="slice", numeric=["x"], categorical=["c"]
    ).assign(batch_id=batch_id, reference_version=1, profile_id=1, computed_at=datetime.now())
    with connect(warehouse.path) as con:
        replace_rows(con, "drift_metrics", frame, "batch_id", batch_id)
    return frame


@pytest.mark.parametrize(("shift", "drifted"), [(0.0, False), (1.5, True)])
def test_drift_report_renders_and_stores_a_batchs_drift(warehouse, shift, drifted):
    frame = _drift_metrics(warehouse, "b1", shift)
    assert bool(frame.loc[(frame["slice"] == drift.ALL) & (frame["feature"] == "x"), "drifted"].iloc[0]) == drifted
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(batches.name, ["b1"])
        with dg.build_asset_context(partition_key="b1", instance=instance) as context:
            result = drift_report(context, warehouse=warehouse)
    assert result.metadata["drifted"] == drifted
    stored = _rows(warehouse, "select batch_id, drifted, markdown from drift_reports")
    assert [(r["batch_id"], r["drifted"]) for r in stored] == [("b1", drifted)]
    assert "x" in stored[0]["markdown"]


def test_drift_report_refuses_a_batch_without_metrics(warehouse):
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(batches.name, ["b9"])
        with (
            dg.build_asset_context(partition_key="b9", instance=instance) as context,
            pytest.raises(dg.Failure, match="batch 'b9': no drift metrics"),
        ):
            drift_report(context, warehouse=warehouse)


@pytest.mark.parametrize("passed", [True, False])
def test_promotion_gate_reports_the_newest_decision(warehouse, passed):
    reasons = ["all rules passed"] if passed else ["change: ROC AUC fell 0.04 against the champion (allowed 0.005)"]
    with connect(warehouse.path) as con:
        for offset, (ok, why) in enumerate([(not passed, ["an older decision"]), (passed, reasons)]):
            append_row(
                con,
                "gate_decisions",
                {
                    "report_id": f"report-{offset}",
                    "candidate_version": 2 + offset,
                    "champion_version": 1,
                    "passed": ok,
                    "reasons": why,
                    "decided_at": datetime(2026, 1, 1, 12, offset),
                },
            )
    result = promotion_gate(warehouse=warehouse)
    assert result.passed == passed
    assert result.description == "; ".join(reasons)
    assert result.metadata["report_id"].value == "report-1"


def test_promotion_gate_without_a_report_says_what_to_run(warehouse):
    with pytest.raises(dg.Failure, match="materialize evaluation_report first"):
        promotion_gate(warehouse=warehouse)
