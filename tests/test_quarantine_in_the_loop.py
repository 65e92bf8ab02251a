"""A bad batch in the stream: the loop prints the rejection, keeps the raw data, and carries on."""

from pathlib import Path

import dagster as dg

from cl_assets.lib import scenario, warehouse
from cl_assets.replay import playback
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


def test_labels_naming_unknown_ids_are_quarantined_without_a_failing_run(tmp_path):
    """An accepted, scored batch whose labels name ids it does not hold: the labels are
    quarantined naming the rule, and no monitoring run is launched on them (it would fail:
    nothing to compare); the corrected labels are then taken in and judged."""
    from datetime import timedelta

    from cl_assets.defs import build_defs
    from cl_assets.lib import landing
    from cl_assets.replay.driver import Driver

    paths = StatePaths.resolve(tmp_path)
    stream = list(playback.scenario_batches(4, 400, seed=5))
    playback.play(paths, scenario.spec(), stream[:3], echo=lambda _: None)
    instance = dg.DagsterInstance.from_config(str(paths.dagster_home))
    driver = Driver(build_defs(paths), instance, log=lambda _: None)
    spec, new = scenario.spec(), stream[3]
    landing.write(new.rows.drop(columns=[spec.target]), paths.landing / "batches" / f"{new.batch_id}.csv")
    assert [r.job_name for r in driver.tick(new.time)] == ["ingest_batch_job"]
    labels = new.rows[[spec.id_column, spec.target]].copy()
    labels[spec.id_column] = labels[spec.id_column].astype(str)
    labels.loc[:4, spec.id_column] = [f"stranger_{i}" for i in range(5)]
    landing.write(labels, paths.landing / "labels" / f"{new.batch_id}.csv")
    launched = driver.tick(new.time + timedelta(hours=1))
    assert [(r.job_name, r.success, r.failure) for r in launched] == [("ingest_labels_job", False, None)]
    launched = driver.tick(new.time + timedelta(hours=2))
    assert [r.job_name for r in launched] == [], "nothing launched on quarantined labels"
    with warehouse.connect(paths.warehouse, read_only=True) as con:
        reasons = warehouse.fetch_records(
            con,
            "select rule, column_name, reason from quarantine where batch_id = ? and asset = 'batch_labels'",
            [new.batch_id],
        )
    assert [(r["rule"], r["column_name"]) for r in reasons] == [("entity_id_known", "entity_id")]
    assert "stranger_0" in reasons[0]["reason"]

    landing.write(new.rows[[spec.id_column, spec.target]], paths.landing / "labels" / f"{new.batch_id}.csv")
    launched = driver.tick(new.time + timedelta(hours=3))
    launched += driver.tick(new.time + timedelta(hours=4))
    assert ("ingest_labels_job", True) in [(r.job_name, r.success) for r in launched]
    assert "__ASSET_JOB" in [r.job_name for r in launched] and all(r.failure is None for r in launched)
