"""Retrains held for a person (RetrainPolicy.approval): the queue, read from Dagster's event log.

A retrain that the sensor or the schedule would launch is recorded instead as an
'awaiting_approval' observation on the retrain_trigger asset, with the exact tags its run will
carry. A person runs it from the CLI (`cl approve-retrain`) or the UI (retrain_job with
retrain_trigger's `approve` config); a retrain that runs answers every request made before it.
"""

import json
from collections.abc import Mapping

import dagster as dg

from cl_assets.defs.jobs import retrain_job
from cl_assets.lib import triggers

AWAITING = "awaiting_approval"
HISTORY = 500  # observations of retrain_trigger read for the queue


def awaiting_approval(instance: dg.DagsterInstance, excluding_run: str | None = None) -> dict[str, dict]:
    """Retrains held for approval and still open, oldest first: trigger id -> the tags its run
    will carry. A retrain that ran since (approved, scheduled or by hand) answers every request
    made before it: it learned the same labels. `excluding_run`: a retrain run asking from
    within, which does not answer the request it is about to run."""
    latest = [
        r
        for r in instance.get_run_records(filters=dg.RunsFilter(job_name=retrain_job.name), limit=2)
        if r.dagster_run.run_id != excluding_run
    ]
    since = latest[0].create_timestamp.timestamp() if latest else 0.0
    found: dict[str, dict] = {}
    for record in instance.fetch_observations(dg.AssetKey("retrain_trigger"), limit=HISTORY).records:
        meta = record.asset_observation.metadata if record.asset_observation else {}
        if record.timestamp > since and getattr(meta.get("decision"), "value", None) == AWAITING:
            found.setdefault(meta["trigger_id"].value, meta["run_tags"].value)
    return dict(reversed(found.items()))


def hold(instance: dg.DagsterInstance, tags: Mapping[str, str]) -> dg.AssetObservation | None:
    """The 'awaiting_approval' observation of the retrain `tags` (a retrain request's tags)
    describe, or None when it is asked already: still waiting, or its run ran (as the daemon
    skips a run key it launched)."""
    trigger_id = tags[triggers.TRIGGER_ID]
    ran = instance.get_runs(
        filters=dg.RunsFilter(job_name=retrain_job.name, tags={triggers.TRIGGER_ID: trigger_id}), limit=1
    )
    if ran or trigger_id in awaiting_approval(instance):
        return None
    return dg.AssetObservation(
        asset_key="retrain_trigger",
        description=f"retrain awaiting approval: {tags[triggers.REASON]}",
        metadata={
            "decision": AWAITING,
            "trigger_id": trigger_id,
            "kind": tags[triggers.KIND],
            "batch_id": tags[triggers.BATCH],
            "reason": tags[triggers.REASON],
            "evidence": dg.MetadataValue.json(json.loads(tags[triggers.EVIDENCE])),
            "run_tags": dg.MetadataValue.json(dict(tags)),
            "approve": f"cl approve-retrain {trigger_id} --reason '...', or in the UI launch retrain_job with "
            f"retrain_trigger's config approve: {trigger_id}, reason and by",
        },
    )


def not_awaiting(trigger_id: str, pending: dict[str, dict]) -> str:
    """Why `trigger_id` cannot be approved, and which retrains do wait."""
    listed = "; ".join(f"{t} ({tags[triggers.KIND]}: {tags[triggers.REASON][:80]})" for t, tags in pending.items())
    return f"no retrain {trigger_id} awaits approval (it ran, a later retrain answered it, or the id is wrong); " + (
        f"awaiting: {listed}" if listed else "none awaits"
    )
