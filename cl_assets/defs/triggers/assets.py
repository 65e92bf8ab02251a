"""retrain_trigger: the first step of every retrain, recording why it runs (and who approved it)."""

from datetime import datetime

import dagster as dg
from pydantic import Field

from cl_assets.defs.resources import Warehouse
from cl_assets.defs.triggers.approvals import awaiting_approval, not_awaiting
from cl_assets.lib import queries, triggers
from cl_assets.lib.warehouse import append_row


class RetrainTriggerConfig(dg.Config):
    """Approving a retrain held for a person (RetrainPolicy.approval) from the UI: launch
    retrain_job with these set. Left empty, the run's own tags say why it runs."""

    approve: str = Field(
        default="",
        description="The trigger id of a retrain awaiting approval (an 'awaiting_approval' observation on "
        "retrain_trigger). The run then records that trigger, its reason and evidence, as its own.",
    )
    reason: str = Field(default="", description="approve: why it is approved (required; recorded).")
    by: str = Field(default="", description="approve: who approves it (defaults to the run's user tag).")


def _approved(context: dg.AssetExecutionContext, config: RetrainTriggerConfig) -> dict[str, str]:
    """The run tags of the held retrain `config.approve`, with who approved it and why; a
    dg.Failure naming the id and the retrains that do wait, if it waits for no one."""
    pending = awaiting_approval(context.instance, excluding_run=context.run.run_id)
    if config.approve not in pending:
        raise dg.Failure(not_awaiting(config.approve, pending))
    who = config.by.strip() or context.run.tags.get("user", "")
    if not config.reason.strip() or not who:
        raise dg.Failure(
            f"approving retrain {config.approve} needs a reason and who approves it (`by`): both are recorded"
        )
    return {**pending[config.approve], triggers.APPROVED_BY: who, triggers.APPROVAL_REASON: config.reason[:900]}


@dg.asset(group_name="training", kinds={"duckdb"}, pool="duckdb")
def retrain_trigger(
    context: dg.AssetExecutionContext, config: RetrainTriggerConfig, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Why this retrain runs: the trigger and its evidence, from the run's tags; set `approve` (with
    `reason` and `by`) to run a retrain held for a person. Details: docs/assets.md."""
    tags = context.run.tags
    if not config.approve and (config.reason or config.by):
        raise dg.Failure("retrain_trigger: `reason` and `by` go with `approve`, the trigger id of a held retrain")
    # a re-execution of an approved run carries the tags its parent was given: approved already
    reexecuted = bool(tags.get("dagster/parent_run_id")) and tags.get(triggers.TRIGGER_ID) == config.approve
    if config.approve and not reexecuted:
        tags = _approved(context, config)
        context.instance.add_run_tags(context.run.run_id, tags)
    record = triggers.from_tags(tags, context.run.run_id)
    with warehouse.connect() as con:
        queries.DELETE_RETRAIN_TRIGGER.run(con, trigger_id=record["trigger_id"])
        append_row(
            con, "retrain_triggers", {**record, "triggered_at": datetime.now(), "dagster_run_id": context.run.run_id}
        )
    return dg.MaterializeResult(
        metadata={
            "trigger_id": record["trigger_id"],
            "kind": record["kind"],
            "reason": record["reason"],
            "check": record["check_name"] or "",
            "batch_id": record["batch_id"] or "",
            "evidence": dg.MetadataValue.json(record["evidence"]),
            **(
                {"approved_by": record["approved_by"], "approval_reason": record["approval_reason"] or ""}
                if record["approved_by"]
                else {}
            ),
        }
    )
