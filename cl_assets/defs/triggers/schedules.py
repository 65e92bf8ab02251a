"""The periodic retrain: a schedule beside the event-driven triggers."""

import dagster as dg

from cl_assets.defs.jobs import retrain_job, retrain_request


def periodic_retrain_schedule(cron: str, running: bool = True) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="periodic_retrain_schedule",
        job=retrain_job,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED,
        description=(
            f"Retrains on a fixed cadence ('{cron}' UTC; set CL_RETRAIN_CRON), whatever the "
            "monitors say, so the champion never grows stale silently. The candidate still "
            "has to pass the promotion gate. Off by default under the backtest policies "
            "(RetrainPolicy.mode other than auto) and under RetrainPolicy.approval (a retrain waits "
            "for a person there; turn the schedule on if calendar retrains may run unattended)."
        ),
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        if context.instance.get_latest_materialization_event(dg.AssetKey("champion_model")) is None:
            return dg.SkipReason("no champion yet: the first model is trained by the retrain sensor's bootstrap")
        when = context.scheduled_execution_time.isoformat()
        return retrain_request(f"schedule:{when}", "schedule", f"periodic retrain scheduled for {when}")

    return _schedule
