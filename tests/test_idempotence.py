"""Replaying a batch leaves the same rows; a delivery runs once; a re-delivery replaces only its batch."""

import json
import os

import dagster as dg
import pandas as pd
import pytest

from cl_assets.defs import build_defs
from cl_assets.defs.partitions import batches
from cl_assets.lib import landing, scenario, warehouse
from cl_assets.settings import StatePaths

TABLES = ("raw_batches", "stg_batches", "batch_features")


@pytest.fixture
def loop(tmp_path):
    paths = StatePaths.resolve(tmp_path)
    paths.prepare()
    scenario.spec().save(paths.dataset_spec)
    defs = build_defs(paths)
    instance = dg.DagsterInstance.from_config(str(paths.dagster_home))
    return paths, defs, instance


def land(paths, index: int, rows: int = 300, seed: int = 3) -> str:
    batch_id = f"batch_{index:04d}"
    frame = scenario.generate_batch(index, rows, seed).drop(columns=[scenario.spec().target])
    landing.write(frame, paths.landing / "batches" / f"{batch_id}.csv")
    return batch_id


def ingest(defs, instance, batch_id: str) -> None:
    instance.add_dynamic_partitions(batches.name, [batch_id])
    result = defs.resolve_job_def("ingest_batch_job").execute_in_process(instance=instance, partition_key=batch_id)
    assert result.success


def snapshot(paths) -> dict[str, pd.DataFrame]:
    with warehouse.connect(paths.warehouse, read_only=True) as con:
        return {t: warehouse.fetch_df(con, f"select * from {t} order by all") for t in TABLES}


def two_batches_taken_in(loop) -> tuple[str, str, dict[str, pd.DataFrame]]:
    paths, defs, instance = loop
    first, second = land(paths, 0), land(paths, 1)
    ingest(defs, instance, first)
    ingest(defs, instance, second)
    return first, second, snapshot(paths)


def test_materializing_a_batch_twice_leaves_the_same_rows(loop):
    paths, defs, instance = loop
    first, _, before = two_batches_taken_in(loop)
    assert all(len(frame) == 600 for frame in before.values())
    ingest(defs, instance, first)
    after = snapshot(paths)
    for table in TABLES:
        pd.testing.assert_frame_equal(before[table], after[table], obj=table)


def test_a_redelivered_batch_replaces_exactly_its_own_rows(loop):
    paths, defs, instance = loop
    first, second, before = two_batches_taken_in(loop)
    land(paths, 0, rows=120, seed=4)  # corrected file, same batch id
    ingest(defs, instance, first)
    after = snapshot(paths)
    for table in TABLES:
        counts = after[table].groupby("batch_id").size().to_dict()
        assert counts == {first: 120, second: 300}, table
        pd.testing.assert_frame_equal(
            before[table][before[table].batch_id == second].reset_index(drop=True),
            after[table][after[table].batch_id == second].reset_index(drop=True),
            obj=table,
        )


def test_the_landing_sensor_runs_a_delivery_once_and_a_redelivery_again(loop):
    paths, defs, instance = loop
    sensor = defs.get_repository_def().get_sensor_def("landing_sensor")

    def tick(cursor):
        context = dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            definitions=defs,
            resources={"landing_zone": defs.resources["landing_zone"]},
        )
        result = sensor(context)
        for request in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        return result

    batch_id = land(paths, 0)
    first = tick(None)
    assert [(r.job_name, r.partition_key) for r in first.run_requests] == [("ingest_batch_job", batch_id)]
    assert instance.get_dynamic_partitions(batches.name) == [batch_id]
    unchanged = tick(first.cursor)
    assert unchanged.run_requests == [] and unchanged.dynamic_partitions_requests == []
    path = paths.landing / "batches" / f"{batch_id}.csv"
    land(paths, 0, rows=50, seed=9)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    again = tick(unchanged.cursor)
    assert [r.partition_key for r in again.run_requests] == [batch_id]
    assert again.run_requests[0].run_key != first.run_requests[0].run_key
    assert again.dynamic_partitions_requests == []  # the partition exists already
    assert json.loads(again.cursor)[f"batches/{batch_id}.csv"][1] == landing.signature(path)


def sensor_tick(loop, cursor):
    paths, defs, instance = loop
    sensor = defs.get_repository_def().get_sensor_def("landing_sensor")
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources={"landing_zone": defs.resources["landing_zone"]}
    )
    result = sensor(context)
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def run_as_the_daemon(loop, request) -> None:
    """Execute a sensor's request with the tags the daemon gives it."""
    _, defs, instance = loop
    tags = {**request.tags, "dagster/sensor_name": "landing_sensor", "dagster/run_key": request.run_key}
    job = defs.resolve_job_def(request.job_name)
    job.execute_in_process(instance=instance, partition_key=request.partition_key, tags=tags, raise_on_error=False)


def test_labels_that_land_first_wait_for_their_batch_and_return_when_it_is_corrected(loop):
    """Labels are held until their batch's ingest run has finished; the same contents written
    again are no new delivery; a batch delivered again with other contents (corrected after a
    quarantine) has its labels taken in again, under a new run key."""
    paths, defs, instance = loop
    rows = scenario.generate_batch(0, 300, 3)
    spec = scenario.spec()
    labels = landing.write(rows[[spec.id_column, spec.target]], paths.landing / "labels" / "batch_0000.csv")
    held = sensor_tick(loop, None)
    assert held.run_requests == [] and "labels/batch_0000.csv" not in json.loads(held.cursor or "{}")

    batch_id = land(paths, 0)
    landed = sensor_tick(loop, held.cursor)
    assert [(r.job_name, r.partition_key) for r in landed.run_requests] == [("ingest_batch_job", batch_id)]
    assert sensor_tick(loop, landed.cursor).run_requests == []  # the batch's run has not run yet
    run_as_the_daemon(loop, landed.run_requests[0])
    after = sensor_tick(loop, landed.cursor)
    assert [(r.job_name, r.partition_key) for r in after.run_requests] == [("ingest_labels_job", batch_id)]
    first_labels = after.run_requests[0]
    run_as_the_daemon(loop, first_labels)
    with warehouse.connect(paths.warehouse, read_only=True) as con:
        assert warehouse.fetch_df(con, "select count(*) as n from labels")["n"].iloc[0] == 300

    batch_file = paths.landing / "batches" / f"{batch_id}.csv"
    for path in (batch_file, labels):  # written again, same bytes, later mtime: no new delivery
        path.write_bytes(path.read_bytes())
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 2_000_000_000))
    assert sensor_tick(loop, after.cursor).run_requests == []

    land(paths, 0, rows=300, seed=3)  # the same rows...
    frame = pd.read_csv(batch_file)
    frame.loc[0, frame.columns[-1]] = frame.loc[1, frame.columns[-1]]  # ...corrected in one cell
    landing.write(frame, batch_file)
    corrected = sensor_tick(loop, after.cursor)
    assert [r.job_name for r in corrected.run_requests] == ["ingest_batch_job"]
    run_as_the_daemon(loop, corrected.run_requests[0])
    again = sensor_tick(loop, corrected.cursor)
    assert [(r.job_name, r.partition_key) for r in again.run_requests] == [("ingest_labels_job", batch_id)]
    assert again.run_requests[0].run_key != first_labels.run_key
    assert again.run_requests[0].run_key.endswith("@" + landing.signature(batch_file))


def test_files_the_sensor_cannot_take_in_are_reported_not_dropped(loop):
    paths, defs, instance = loop
    sensor = defs.get_repository_def().get_sensor_def("landing_sensor")
    folder = paths.landing / "batches"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("hello")
    (folder / "bad name!.csv").write_text("a\n1\n")
    context = dg.build_sensor_context(
        instance=instance, definitions=defs, resources={"landing_zone": defs.resources["landing_zone"]}
    )
    result = sensor(context)
    assert result.run_requests == []
    refused = {e.metadata["refused_file"].value: e.metadata["reason"].value for e in result.asset_events}
    assert set(refused) == {"batches/notes.txt", "batches/bad name!.csv"}
    assert ".csv and .parquet" in refused["batches/notes.txt"] and "batch id" in refused["batches/bad name!.csv"]
    assert all(e.asset_key == dg.AssetKey("raw_batches") for e in result.asset_events)
