"""`cl replay` on a real dataset: the first 2,800 days of NOAA daily weather in `tests/data/`,
under the `volume:N` policy (a retrain once N labeled rows arrived since the last training set).

How the loop answers that history's drift (about day 12000) is asserted on the backtest's auto
replay (`tests/test_backtest.py`), which plays the whole file through the same code.
"""

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cl_assets import cli
from cl_assets.cli.common import dataset
from cl_assets.lib import warehouse
from cl_assets.settings import StatePaths

NOAA = Path(__file__).parent / "data" / "noaa_weather_days_9000_15999.csv"
BATCH_ROWS, BATCHES = 700, 4
VOLUME = 2 * BATCH_ROWS  # labels of batches 1 and 2 make the one retrain after the first model


@pytest.fixture(scope="module")
def replay(tmp_path_factory) -> tuple[dict, StatePaths]:
    home = tmp_path_factory.mktemp("noaa")
    history = home / "noaa_first_days.csv"
    pd.read_csv(NOAA).sort_values("day").head(BATCH_ROWS * BATCHES).to_csv(history, index=False)
    report = home / "report.json"
    progress = io.StringIO()
    with contextlib.redirect_stderr(progress):
        cli.main(
            [
                "replay",
                str(history),
                "--target",
                "rain",
                "--time",
                "day",
                "--batch-rows",
                str(BATCH_ROWS),
                "--home",
                str(home),
                "--report",
                str(report),
                "--policy",
                f"volume:{VOLUME}",
            ]
        )
    (home / "progress.txt").write_text(progress.getvalue())
    return json.loads(report.read_text()), StatePaths.resolve(home)


def test_the_file_is_cut_into_consecutive_batches(replay):
    report, paths = replay
    assert [b["rows"] for b in report["batches"]] == [BATCH_ROWS] * BATCHES
    with warehouse.connect(paths.warehouse, read_only=True) as con:
        spans = warehouse.fetch_records(
            con, "select batch_id, min(day) as lo, max(day) as hi from raw_batches group by all order by batch_id"
        )
    assert all(a["hi"] < b["lo"] for a, b in zip(spans, spans[1:], strict=False))


def test_every_batch_after_the_first_is_scored_prequentially(replay):
    report, _ = replay
    scored = [b for b in report["batches"] if b["metrics"] is not None]
    assert len(scored) >= len(report["batches"]) - 2
    assert all(0.0 <= b["metrics"]["roc_auc"] <= 1.0 for b in scored)
    assert report["summary"]["batches"] == BATCHES and report["summary"]["retrains"] >= 1


def test_the_volume_policy_retrains_on_its_count_of_labeled_rows_only(replay):
    report, paths = replay
    with warehouse.connect(paths.warehouse, read_only=True) as con:
        triggers = warehouse.fetch_records(con, "select kind, evidence from retrain_triggers order by triggered_at")
    assert [t["kind"] for t in triggers] == ["bootstrap", "volume"]
    evidence = json.loads(triggers[1]["evidence"])
    assert evidence["threshold"] == VOLUME and evidence["new_labeled_rows"] >= VOLUME
    assert report["summary"]["retrains"] == len(triggers)


def test_tuning_progress_is_shown_while_candidates_train(replay):
    _, paths = replay
    lines = (paths.home / "progress.txt").read_text().splitlines()
    with warehouse.connect(paths.warehouse, read_only=True) as con:
        trials = con.execute("select count(*), max(trial) from tuning_trials").fetchall()[0]
    assert len(lines) == trials[0] > 0
    assert lines[0].startswith(f"  tuning: trial 1 of {trials[1]}")
    assert all("best so far" in line for line in lines)


@pytest.mark.parametrize(
    ("contents", "words"),
    [
        (b"", "is empty (0 bytes)"),
        (b"id,x,y\n", "holds a header and no rows"),
        ("id,x,y\n1,caf\u00e9,1\n".encode("latin-1"), "is not UTF-8: byte 0xe9"),
        (b"id,x,x,y\n1,2,3,1\n2,3,4,0\n", "repeats column(s) ['x']"),
        (b"id,x,y\n1,2,1\n2,3\n", "line 3 has 2 fields"),
    ],
    ids=["empty", "header_only", "not_utf8", "repeated_column", "ragged"],
)
def test_a_file_that_cannot_be_replayed_is_refused_in_one_line_with_exit_2(tmp_path, capsys, contents, words):
    source = tmp_path / "history.csv"
    source.write_bytes(contents)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["replay", str(source), "--target", "y", "--home", str(tmp_path / "state")])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("cl replay: ") and words in err, err
    assert str(source) in err
    assert not (tmp_path / "state" / "warehouse.duckdb").exists()


def test_a_file_given_by_a_symbolic_link_is_read(tmp_path):
    """The landing folder refuses links; a user's own history behind one is read all the same."""
    import argparse

    source = tmp_path / "history.csv"
    source.write_text("x,y\n1,0\n2,1\n")
    (tmp_path / "link.csv").symlink_to(source)
    args = argparse.Namespace(target="y", id=None, time=None, slice=None, categorical=[])
    frame, spec = dataset(tmp_path / "link.csv", args)
    assert frame["x"].tolist() == [1, 2] and spec.target == "y"


def test_a_stream_whose_first_two_batches_are_rejected_carries_on(tmp_path):
    """Nothing stored yet when the first batches are quarantined: the timeline reads no table
    that the first accepted batch creates, no first model is trained on quarantined labels, and
    the loop trains one once accepted batches are labeled."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": np.arange(800), "x": rng.normal(size=800), "z": rng.normal(size=800)})
    frame["y"] = (frame["x"] + rng.normal(size=800) > 0).astype(int)
    frame.loc[:399, "id"] %= 100  # batches 0 and 1 repeat their ids
    source = tmp_path / "history.csv"
    frame.to_csv(source, index=False)
    report = tmp_path / "report.json"
    home = tmp_path / "state"
    cli.main(
        ["replay", str(source), "--target", "y", "--id", "id", "--batch-rows", "200"]
        + ["--home", str(home), "--report", str(report)]
    )
    rows = json.loads(report.read_text())["batches"]
    assert [r["validation_passed"] for r in rows] == [False, False, True, True]
    assert [r["rows"] for r in rows] == [0, 0, 200, 200]
    with warehouse.connect(StatePaths.resolve(home).warehouse, read_only=True) as con:
        triggers = warehouse.fetch_records(con, "select kind, batch_id from retrain_triggers order by triggered_at")
    assert triggers and {t["batch_id"] for t in triggers} <= {"batch_0002", "batch_0003"}
    assert rows[-1]["champion_version"] is not None
