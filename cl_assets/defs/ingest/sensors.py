"""The landing sensor: every new or re-delivered file becomes a run for its batch."""

import json

import dagster as dg

from cl_assets.defs.jobs import ingest_batch_job, ingest_labels_job
from cl_assets.defs.partitions import batches
from cl_assets.defs.resources import LANDING_FORMATS, Landing
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


@dg.sensor(
    name="landing_sensor",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    jobs=[ingest_batch_job, ingest_labels_job],
    description=(
        "Watches the landing folder. A new (or re-delivered) file in batches/ registers a "
        "partition and launches ingest_batch_job for it; a file in labels/ launches "
        "ingest_labels_job for the batch it names. Run keys carry the file's signature, so "
        "the same delivery never runs twice. A file it cannot take in (not CSV or Parquet, or "
        "a name that is no batch id) is reported as an observation on the asset, not dropped."
    ),
)
def landing_sensor(context: dg.SensorEvaluationContext, landing_zone: Landing) -> dg.SensorResult:
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    known = set(context.instance.get_dynamic_partitions(batches.name))
    new_partitions: list[str] = []
    refused: list[dg.AssetObservation] = []
    requests: list[dg.RunRequest] = []
    for kind, job in (("batches", BATCH_JOB), ("labels", LABELS_JOB)):
        for path in _landed(landing_zone.folder(kind)):
            key, sig = f"{kind}/{path.name}", landing.signature(path)
            if seen.get(key) == sig:
                continue
            batch_id = landing.batch_id_for(path)
            reason = None
            if path.suffix not in LANDING_FORMATS:
                reason = f"only {' and '.join(LANDING_FORMATS)} files are read"
            elif batch_id is None:
                reason = "its name is no batch id (letters, digits, '_', '-', '.'; starting with a letter or digit)"
            if reason:
                context.log.warning(f"not taking in {key}: {reason}")
                refused.append(_refused(kind, path, reason))
                seen[key] = sig
                continue
            if kind == "batches" and batch_id not in known:
                new_partitions.append(batch_id)
                known.add(batch_id)
            if kind == "labels" and batch_id not in known:
                context.log.info(f"labels for batch '{batch_id}' wait until the batch itself lands")
                continue
            seen[key] = sig
            requests.append(
                dg.RunRequest(
                    run_key=f"{key}:{sig}",
                    job_name=job,
                    partition_key=batch_id,
                    tags={"cl/landed_file": key},
                )
            )
    # Labels of a batch are ingested after the batch they belong to, within one tick.
    requests.sort(key=lambda r: r.job_name == BATCH_JOB)
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[batches.build_add_request(new_partitions)] if new_partitions else [],
        cursor=json.dumps(seen),
        asset_events=refused,
    )
