"""The promotion sensor: acts on a canary's verdict, read from Dagster's event log.

Like the retrain sensor it never opens DuckDB: batch_performance puts the verdict of a
running canary in its materialization's metadata, and that is all this sensor reads.
"""

import dagster as dg

from cl_assets.defs.jobs import promotion_job
from cl_assets.lib import promotion

PAGE = 100


@dg.sensor(
    name="promotion_sensor",
    job=promotion_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Concludes canaries (PromotionPolicy mode 'canary'). When a batch_performance "
        "materialization carries a canary verdict (promote or roll_back: the challenger's realized "
        "accuracy and log loss on the canary rows against the champion's, once enough labeled "
        "batches are in), launches promotion_job with champion_model's action CANARY: champion_model promotes the "
        "challenger or rolls the canary back, recording the verdict and its evidence in `promotions`. "
        "One run per canary (the run key is the canary id)."
    ),
)
def promotion_sensor(context: dg.SensorEvaluationContext):
    after = int(context.cursor or 0)
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("batch_performance"), after_storage_id=after),
        limit=PAGE,
        ascending=True,
    ).records
    requests = []
    for record in records:
        after = max(after, record.storage_id)
        meta = {k: v.value for k, v in record.asset_materialization.metadata.items()}
        verdict = meta.get("canary_verdict")
        if verdict not in (promotion.PROMOTE, promotion.ROLL_BACK):
            continue
        canary_id = str(meta["canary_id"])
        requests.append(
            dg.RunRequest(
                run_key=f"canary:{canary_id}",
                run_config={"ops": {"champion_model": {"config": {"action": "CANARY"}}}},
                tags={
                    "cl/canary_id": canary_id,
                    "cl/canary_verdict": verdict,
                    "cl/canary_reason": str(meta.get("canary_reason", ""))[:900],
                },
            )
        )
    if not requests:
        return dg.SensorResult(skip_reason="no canary verdict since the last tick", cursor=str(after))
    return dg.SensorResult(run_requests=requests, cursor=str(after))
