"""The periodic retrain: a schedule beside the event-driven triggers."""

import dagster as dg

from cl_assets.defs.jobs import retrain_job, retrain_request
from cl_assets.defs.triggers import approvals
from cl_assets.lib import triggers


@dg.op(
    description="Records the retrain this run's tags describe (the schedule's request) as an 'awaiting_approval' "
    "observation on retrain_trigger, once; nothing is trained."
)
def hold_retrain(context: dg.OpExecutionContext) -> None:
    tags = {k: v for k, v in context.run.tags.items() if k.startswith("cl/")}
    if triggers.TRIGGER_ID not in tags:
        raise dg.Failure("hold_retrain_job holds a retrain request: launch it from the schedule, not by hand")
    held = approvals.hold(context.instance, tags)
    if held is None:
        context.log.info(f"retrain {tags[triggers.TRIGGER_ID]} already awaits approval or ran")
    else:
        context.log_event(held)


@dg.job(
    description="Under RetrainPolicy.approval, the periodic schedule's target: it holds the scheduled retrain for "
    "a person (an 'awaiting_approval' observation on retrain_trigger) instead of running it; "
    "`cl approve-retrain TRIGGER_ID` or retrain_job with retrain_trigger's `approve` config runs it."
)
def hold_retrain_job():
    hold_retrain()


def periodic_retrain_schedule(cron: str, running: bool = True, held: bool = False) -> dg.ScheduleDefinition:
    """The schedule; `held` (RetrainPolicy.approval): each retrain waits for a person (hold_retrain_job)."""
    what = (
        "holds a retrain for a person's approval (RetrainPolicy.approval: hold_retrain_job records it on "
        "retrain_trigger; `cl approve-retrain` or retrain_job's launchpad runs it)"
        if held
        else "retrains"
    )

    @dg.schedule(
        name="periodic_retrain_schedule",
        job=hold_retrain_job if held else retrain_job,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED,
        description=(
            f"On a fixed cadence ('{cron}' UTC; set CL_RETRAIN_CRON) {what}, whatever the monitors say, so "
            "the champion never grows stale silently. The candidate still has to pass the promotion gate. "
            "Off by default under the backtest policies (RetrainPolicy.mode other than auto)."
        ),
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        if context.instance.get_latest_materialization_event(dg.AssetKey("champion_model")) is None:
            return dg.SkipReason("no champion yet: the first model is trained by the retrain sensor's bootstrap")
        when = context.scheduled_execution_time.isoformat()
        return retrain_request(f"schedule:{when}", "schedule", f"periodic retrain scheduled for {when}")

    return _schedule
