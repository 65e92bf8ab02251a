"""The landing sensor: every new or re-delivered file becomes a run for its batch."""

import json

import dagster as dg

from cl_assets.defs.ingest.landing_zone import LANDING_FORMATS, Landing
from cl_assets.defs.jobs import ingest_batch_job, ingest_labels_job
from cl_assets.defs.partitions import batches
from cl_assets.lib import landing

BATCH_JOB, LABELS_JOB = "ingest_batch_job", "ingest_labels_job"


def _landed(folder) -> list:
    """Every visible file (temporary files written atomically start with a dot)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and not p.is_dir())


def _refused(kind: str, path, reason: str) -> dg.AssetObservation:
    """A landed file the sensor cannot turn into a run, shown on the asset instead of dropped."""
    return dg.AssetObservation(
        asset_key="raw_batches" if kind == "batches" else "batch_labels",
        metadata={"refused_file": f"{kind}/{path.name}", "reason": reason},
        description=f"{kind}/{path.name} was not taken in: {reason}",
    )


def _entry(value) -> list:
    """A cursor entry as [stat, signature, batch signature]; a cursor written before contents
    were hashed held the stat alone."""
    if isinstance(value, str):
        return [value, None, None]
    return (list(value) + [None, None, None])[:3]


def _unchanged(entry: list, path, batch_sig: str | None = None) -> tuple[bool, str]:
    """Whether the file is the delivery the cursor saw (and, for labels, of the same batch
    delivery), and the file's signature; `entry` is brought up to date. The contents are
    hashed only when the stat moved."""
    stat = landing.stat_key(path)
    if entry[0] == stat and entry[1] is None:  # an old cursor's entry: adopted as what it saw
        entry[1:] = [landing.signature(path), batch_sig]
        return True, entry[1]
    sig = entry[1] if entry[0] == stat else landing.signature(path)
    entry[0] = stat
    return entry[1] == sig and entry[2] == batch_sig, sig


def _batch_deliveries(seen: dict) -> dict[str, str]:
    """Each batch's newest delivery, as the run key of its ingest run, from the cursor."""
    out = {}
    for key, value in seen.items():
        kind, _, name = key.partition("/")
        if kind == "batches" and name.endswith(LANDING_FORMATS) and (batch_id := landing.batch_id_for_key(key)):
            out[batch_id] = f"{key}:{value[1]}"
    return out


def _finished(context, run_key: str) -> bool:
    runs = context.instance.get_runs(
        filters=dg.RunsFilter(tags={"dagster/sensor_name": "landing_sensor", "dagster/run_key": run_key}), limit=1
    )
    return bool(runs) and runs[0].is_finished


@dg.sensor(
    name="landing_sensor",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    jobs=[ingest_batch_job, ingest_labels_job],
    description=(
        "Watches the landing folder. A new (or re-delivered) file in batches/ registers a "
        "partition and launches ingest_batch_job for it; a file in labels/ launches "
        "ingest_labels_job for the batch it names once that batch's ingest run has finished "
        "(labels that land first are held). Files are known by a hash of their contents: the "
        "same delivery written again never runs twice, and a batch delivered again with other "
        "contents (say, corrected after quarantine) has its labels taken in again. A file it "
        "cannot take in (not CSV or Parquet, or a name that is no batch id) is reported as an "
        "observation on the asset, not dropped."
    ),
)
def landing_sensor(context: dg.SensorEvaluationContext, landing_zone: Landing) -> dg.SensorResult:
    seen: dict[str, list] = {k: _entry(v) for k, v in (json.loads(context.cursor) if context.cursor else {}).items()}
    known = set(context.instance.get_dynamic_partitions(batches.name))
    new_partitions: list[str] = []
    refused: list[dg.AssetObservation] = []
    requests: list[dg.RunRequest] = []
    for kind, job in (("batches", BATCH_JOB), ("labels", LABELS_JOB)):
        delivered = _batch_deliveries(seen) if kind == "labels" else {}
        for path in _landed(landing_zone.folder(kind)):
            key, batch_id = f"{kind}/{path.name}", landing.batch_id_for(path)
            entry = list(seen.get(key, [None, None, None]))  # written back only once decided
            batch_run, batch_sig = None, None
            if kind == "labels" and batch_id is not None and path.suffix in LANDING_FORMATS:
                batch_run = delivered.get(batch_id)
                if batch_run is None or batch_id not in known:
                    context.log.info(f"labels for batch '{batch_id}' wait until the batch itself lands")
                    continue
                batch_sig = batch_run.rpartition(":")[2]
            same, sig = _unchanged(entry, path, batch_sig)
            if same:
                seen[key] = entry
                continue
            if batch_run is not None and not _finished(context, batch_run):  # asked only for new labels
                context.log.info(f"labels for batch '{batch_id}' wait until the batch's ingest run finishes")
                continue
            reason = None
            if path.suffix not in LANDING_FORMATS:
                reason = f"only {' and '.join(LANDING_FORMATS)} files are read"
            elif batch_id is None:
                reason = "its name is no batch id (letters, digits, '_', '-', '.'; starting with a letter or digit)"
            seen[key] = [entry[0], sig, batch_sig]
            if reason:
                context.log.warning(f"not taking in {key}: {reason}")
                refused.append(_refused(kind, path, reason))
                continue
            if kind == "batches" and batch_id not in known:
                new_partitions.append(batch_id)
                known.add(batch_id)
            run_key = f"{key}:{sig}" if kind == "batches" else f"{key}:{sig}@{batch_sig}"
            requests.append(
                dg.RunRequest(run_key=run_key, job_name=job, partition_key=batch_id, tags={"cl/landed_file": key})
            )
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[batches.build_add_request(new_partitions)] if new_partitions else [],
        cursor=json.dumps(seen),
        asset_events=refused,
    )
