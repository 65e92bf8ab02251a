"""The retrain sensor: the loop's trigger policy, reading check results from Dagster's event log.

It never opens DuckDB (the daemon would collide with a running materialization's lock); all
it needs is in the event log: failed monitoring checks with their evidence, and whether a
champion exists yet.
"""

import json

import dagster as dg

from cl_assets.defs.jobs import retrain_job
from cl_assets.lib import triggers

WATCHED_CHECKS = (
    dg.AssetCheckKey(dg.AssetKey("drift_metrics"), "drift_check"),
    dg.AssetCheckKey(dg.AssetKey("batch_performance"), "performance_check"),
)
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _failures(instance: dg.DagsterInstance, after: int) -> list[dict]:
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    found = []
    for key in WATCHED_CHECKS:
        for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=100):
            if record.id <= after or record.status != AssetCheckExecutionRecordStatus.FAILED:
                continue
            evaluation = record.event.asset_check_evaluation if record.event else None
            meta = {k: v.value for k, v in (evaluation.metadata if evaluation else {}).items()}
            found.append(
                {
                    "id": record.id,
                    "check": key.name,
                    "batch_id": meta.get("batch_id", ""),
                    "description": evaluation.description if evaluation else "",
                    "evidence": meta.get("evidence", {}),
                }
            )
    return sorted(found, key=lambda f: f["id"])


def _latest_check_id(instance: dg.DagsterInstance) -> int:
    ids = [
        r.id
        for key in WATCHED_CHECKS
        for r in instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
    ]
    return max(ids, default=0)


@dg.sensor(
    name="retrain_sensor",
    job=retrain_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Launches retrain_job when drift_check or performance_check fails, with the failing "
        "checks, batches and evidence on the run's tags (recorded by retrain_trigger). Also "
        "trains the first model ('bootstrap') once labels have arrived and no champion exists. "
        "Never launches a retrain while another is queued or running. On its first tick it "
        "starts from the latest check result: history from before it ran is not acted on."
    ),
)
def retrain_sensor(context: dg.SensorEvaluationContext):
    instance = context.instance
    after = _latest_check_id(instance) if context.cursor is None else json.loads(context.cursor)["after"]
    failures = _failures(instance, after)
    cursor = json.dumps({"after": max([after, *(f["id"] for f in failures)])})
    if instance.get_runs(filters=dg.RunsFilter(job_name=retrain_job.name, statuses=IN_FLIGHT), limit=1):
        return dg.SensorResult(skip_reason="a retrain is already queued or running", cursor=cursor)
    if instance.get_latest_materialization_event(dg.AssetKey("champion_model")) is None:
        labels = instance.fetch_materializations(dg.AssetKey("batch_labels"), limit=1).records
        if not labels:
            return dg.SensorResult(skip_reason="waiting for the first labels to train the first model", cursor=cursor)
        batch = labels[0].partition_key or ""
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"bootstrap:{labels[0].storage_id}",
                    tags=triggers.tags("bootstrap", f"no champion yet; labels of batch '{batch}' arrived", batch=batch),
                )
            ],
            cursor=cursor,
        )
    if not failures:
        return dg.SensorResult(skip_reason="no monitoring check failed since the last tick", cursor=cursor)
    checks = sorted({f["check"] for f in failures})
    reason = "; ".join(f["description"] for f in failures)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"checks:{failures[-1]['id']}",
                tags=triggers.tags(
                    kind="+".join(checks),
                    reason=reason,
                    check=",".join(checks),
                    batch=failures[-1]["batch_id"],
                    evidence={f"{f['check']}@{f['batch_id']}": f["evidence"] for f in failures},
                ),
            )
        ],
        cursor=cursor,
    )


automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description=(
        "Evaluates the assets' automation conditions (on by default): batch_performance is "
        "computed as soon as a scored batch's labels arrive."
    ),
)
