"""A bad batch in the stream: the loop prints the rejection, keeps the raw data, and carries on."""

from pathlib import Path

import dagster as dg

from cl_assets import playback
from cl_assets.lib import scenario, warehouse
from cl_assets.settings import StatePaths


def test_the_loop_rejects_a_bad_batch_and_carries_on_with_the_next(tmp_path):
    paths = StatePaths.resolve(tmp_path)
    stream = list(playback.scenario_batches(4, 400, seed=5))
    bad = stream[2].rows.copy()
    bad.loc[:9, "age"] = 250
    stream[2] = playback.Batch(stream[2].batch_id, bad, stream[2].time)
    lines: list[str] = []
    report = playback.play(paths, scenario.spec(), stream, report=Path(tmp_path) / "r.json", echo=lines.append)

    rejected = report["batches"][2]
    assert rejected["validation_passed"] is False and rejected["rows"] == 0
    assert "REJECTED" in lines[2] and "age_in_range" in lines[2] and "batch_0002" in lines[2]
    after = report["batches"][3]
    assert after["validation_passed"] is True and after["drift"], "the next good batch was scored and monitored"

    with warehouse.connect(paths.warehouse, read_only=True) as con:
        kept = warehouse.fetch_records(
            con, "select count(*) as n from quarantined_rows where batch_id = 'batch_0002' and asset = 'raw_batches'"
        )
        features = warehouse.fetch_records(con, "select distinct batch_id from batch_features order by 1")
        trained = warehouse.fetch_records(con, "select batches from training_set_versions")
    assert kept[0]["n"] == 400
    assert [f["batch_id"] for f in features] == ["batch_0000", "batch_0001", "batch_0003"]
    assert all("batch_0002" not in t["batches"] for t in trained)
    assert (paths.landing / "batches" / "batch_0002.csv").is_file()  # the raw file stays

    instance = dg.DagsterInstance.from_config(str(paths.dagster_home))
    failed = instance.get_runs(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE], tags={"dagster/partition": "batch_0002"})
    )
    # its features run stopped at the blocking checks, its labels were refused (unknown ids);
    # nothing else failed: automation did not try to judge the batch
    assert sorted(r.job_name for r in failed) == ["ingest_batch_job", "ingest_labels_job"]
