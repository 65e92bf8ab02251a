"""The jobs that sensors and schedules launch."""

import dagster as dg

from cl_assets.lib import triggers

ingest_batch_job = dg.define_asset_job(
    "ingest_batch_job",
    selection=dg.AssetSelection.assets(
        "raw_batches",
        "stg_batches",
        "batch_features",
        "predictions",
        "estimated_performance",
        "drift_metrics",
        "drift_report",
    ),
    description=(
        "One landed batch: store it, validate it, build its features, score it with the champion, estimate its "
        "performance before labels exist, and measure and report drift. Once its labels arrive, batch_performance and refit_impact follow (their automation)."
    ),
)

ingest_labels_job = dg.define_asset_job(
    "ingest_labels_job",
    selection=dg.AssetSelection.assets("batch_labels"),
    description="The labels of one batch, which arrive after the batch itself.",
)

retrain_job = dg.define_asset_job(
    "retrain_job",
    selection=dg.AssetSelection.assets(
        "retrain_trigger", "training_set", "candidate_model", "evaluation_report", "champion_model", "reference_profile"
    ),
    description="Record why, compose a training set, train a candidate, judge it, and promote it only through the gate.",
)

promotion_job = dg.define_asset_job(
    "promotion_job",
    selection=dg.AssetSelection.assets("champion_model", "reference_profile"),
    description=(
        "A decision about the champion outside a retrain: a canary's verdict (promotion_sensor), a "
        "person's approval (`cl approve`) or rollback (`cl rollback`); set champion_model's `action`."
    ),
)


def retrain_request(run_key: str, kind: str, reason: str, run_config: dict | None = None, **trigger) -> dg.RunRequest:
    """A request for retrain_job: the run key also names the trigger (`cl/trigger_id`), and the
    tags carry what launched it (`triggers.tags`: check, batch, evidence)."""
    return dg.RunRequest(
        run_key=run_key, run_config=run_config or {}, tags=triggers.tags(kind, reason, key=run_key, **trigger)
    )
