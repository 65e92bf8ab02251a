"""`cl backtest`: one real history (NOAA weather) replayed under several retrain policies."""

import json
from pathlib import Path

import pandas as pd
import pytest

from cl_assets import cli
from cl_assets.lib import warehouse

NOAA = Path(__file__).parent / "data" / "noaa_weather_days_9000_15999.csv"
ROWS, BATCH_ROWS = 3500, 500
POLICIES = ["periodic:2", "volume:1000", "never"]


@pytest.fixture(scope="module")
def backtest(tmp_path_factory):
    home = tmp_path_factory.mktemp("backtest")
    history = home / "noaa.csv"
    pd.read_csv(NOAA).sort_values("day").head(ROWS).to_csv(history, index=False)
    report, plot = home / "report.json", home / "policies.png"
    cli.main(
        ["backtest", str(history), "--target", "rain", "--time", "day", "--batch-rows", str(BATCH_ROWS)]
        + ["--policies", ",".join(POLICIES), "--home", str(home), "--report", str(report), "--plot", str(plot)]
    )
    return home, json.loads(report.read_text()), plot


def _triggers(home: Path, policy: str) -> list[dict]:
    db = home / "backtest" / policy.replace(":", "-") / "warehouse.duckdb"
    with warehouse.connect(db, read_only=True) as con:
        return warehouse.fetch_records(con, "select kind, evidence from retrain_triggers order by triggered_at")


def test_the_report_compares_every_policy(backtest):
    _, report, _ = backtest
    assert list(report["policies"]) == POLICIES
    for result in report["policies"].values():
        assert {"mean_accuracy", "mean_roc_auc", "retrains"} <= set(result)
        assert 0 < result["mean_accuracy"] <= 1
        assert len(result["accuracy"]) == ROWS // BATCH_ROWS


def test_never_keeps_the_first_model(backtest):
    home, report, _ = backtest
    assert [t["kind"] for t in _triggers(home, "never")] == ["bootstrap"]
    assert report["policies"]["never"]["retrains"] == 1


def test_periodic_and_volume_retrain_on_their_counts_only(backtest):
    home, report, _ = backtest
    for policy, kind, key, threshold in (
        ("periodic:2", "periodic", "new_labeled_batches", 2),
        ("volume:1000", "volume", "new_labeled_rows", 1000),
    ):
        triggers = _triggers(home, policy)
        assert triggers[0]["kind"] == "bootstrap"
        later = triggers[1:]
        assert later and {t["kind"] for t in later} == {kind}
        assert all(json.loads(t["evidence"])[key] >= threshold for t in later)
        assert report["policies"][policy]["retrains"] >= 2
    assert report["policies"]["periodic:2"]["retrains"] > report["policies"]["never"]["retrains"]


def test_the_plot_is_a_png(backtest):
    _, _, plot = backtest
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
