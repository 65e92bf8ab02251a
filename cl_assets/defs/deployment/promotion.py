"""The champion and every decision that changes it: promotion by mode, approval, canary, rollback.

`champion_model` is the only writer of `champion_history` and `promotions`. It acts on the
newest gate decision under the PromotionPolicy mode (auto promotes, canary starts a canary,
manual holds for a person), or on a person's approval or rollback, or on a canary's verdict.
A decision that leaves the champion in place is an observation of the asset, not a
materialization, so nothing downstream (the reference profile) runs for it.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import dagster as dg
from pydantic import Field

from cl_assets.defs.deployment.policy import PromotionMode, PromotionPolicy
from cl_assets.defs.evaluation.checks import latest_decision
from cl_assets.defs.resources import ModelRegistry, Warehouse
from cl_assets.lib import failpoints, modeling, promotion, queries, registry
from cl_assets.lib.champion import current, of_version
from cl_assets.lib.warehouse import append_row

CHAMPION_ACTIONS = ("promoted", "approved", "canary_promoted", "rolled_back")


class PromotionAction(StrEnum):
    GATE = "gate"
    APPROVE = "approve"
    ROLLBACK = "rollback"
    CANARY = "canary"


class ChampionConfig(dg.Config):
    """Leave the defaults to act on the newest gate decision; a person sets `action` to approve
    a waiting challenger or to roll back (with a reason, recorded with who and when)."""

    action: PromotionAction = Field(
        default=PromotionAction.GATE,
        description="GATE: act on the newest gate decision under the PromotionPolicy mode; APPROVE: promote "
        "`version`, a challenger still awaiting approval (`cl pending` lists them); ROLLBACK: restore `version` "
        "(0: the newest earlier champion not itself rolled back); CANARY: conclude the running canary by its verdict.",
    )
    version: int = Field(
        default=0,
        description="approve: the model version; rollback: the version to restore (0: the newest earlier "
        "champion that was not itself rolled back).",
    )
    reason: str = Field(default="", description="approve / rollback: why (required; recorded).")
    by: str = Field(default="", description="Who decides (defaults to the run's user tag).")


@dataclass
class Decision:
    action: str
    version: int
    reason: str
    report_id: str | None = None
    trigger_id: str | None = None
    training_set_version: int | None = None
    evidence: dict = field(default_factory=dict)
    actor: str | None = None

    @property
    def changes_champion(self) -> bool:
        return self.action in CHAMPION_ACTIONS


def _candidate(con, version: int) -> dict:
    row = queries.CANDIDATE_OF_VERSION.one(con, version=version)
    if row is None:
        raise dg.Failure(f"no model version {version} in this state folder")
    return row


def _passed_gate(con, version: int) -> dict:
    gate = queries.GATE_DECISION_OF_CANDIDATE.one(con, version=version)
    if gate is None or not gate["passed"]:
        raise dg.Failure(f"model version {version} has not passed the promotion gate: it cannot be promoted")
    return gate


def _on_gate(con, policy: PromotionPolicy, champion: dict | None) -> Decision:
    decision = latest_decision(con)
    version = int(decision["candidate_version"])
    if not decision["passed"]:
        raise dg.Failure(f"model version {version} did not pass the promotion gate ({decision['report_id']})")
    candidate = _candidate(con, version)
    base = {
        "version": version,
        "report_id": decision["report_id"],
        "trigger_id": candidate["trigger_id"],
        "training_set_version": int(candidate["training_set_version"]),
    }
    against = f"version {int(champion['model_version'])}" if champion else "no champion"
    if policy.mode == PromotionMode.MANUAL:
        return Decision(
            "awaiting_approval",
            reason=f"passed the gate against {against}; promotion mode 'manual': waits for "
            f"`cl approve {version} --reason ...` or an approve run of champion_model",
            **base,
        )
    if policy.mode == PromotionMode.CANARY and champion is not None:
        running = queries.ACTIVE_CANARY.one(con)
        replaces = (
            f"; replaces canary {running['promotion_id']} of version {running['model_version']}" if running else ""
        )
        return Decision(
            "canary_started",
            reason=f"passed the gate against {against}; canary: scores {policy.canary_share:.0%} of each batch "
            f"beside the champion, verdict after {policy.canary_batches} labeled batches{replaces}",
            evidence={
                "share": policy.canary_share,
                "batches": policy.canary_batches,
                "min_rows": policy.canary_min_rows,
                "champion_version": int(champion["model_version"]),
                **({"replaces": running["promotion_id"]} if running else {}),
            },
            **base,
        )
    return Decision(
        "promoted", reason="first model" if champion is None else f"passed the gate against {against}", **base
    )


def _approve(con, config: ChampionConfig, champion: dict | None) -> Decision:
    version = config.version
    if version <= 0:
        raise dg.Failure("approve: set `version` to the challenger to promote")
    gate = _passed_gate(con, version)
    if champion is not None and int(champion["model_version"]) == version:
        raise dg.Failure(f"model version {version} is already the champion")
    waiting = queries.AWAITING_PROMOTION_OF_VERSION.one(con, version=version)
    if waiting is None:  # never held, or decided since: approved, or rolled back after its approval
        newest = queries.NEWEST_DECISION_OF_VERSION.one(con, version=version)
        was = f"its newest decision is '{newest['action']}'" if newest else "it was never held for approval"
        raise dg.Failure(
            f"model version {version} is not awaiting approval: {was} (`cl pending` lists the challengers that "
            f"wait; `cl rollback --to {version}` restores a former champion)"
        )
    candidate = _candidate(con, version)
    return Decision(
        "approved",
        version,
        config.reason,
        report_id=gate["report_id"],
        trigger_id=candidate["trigger_id"],
        training_set_version=int(candidate["training_set_version"]),
        evidence={"gate_reasons": gate["reasons"]},
    )


def _rollback(con, config: ChampionConfig, champion: dict | None) -> Decision:
    if champion is None:
        raise dg.Failure("rollback: there is no champion yet")
    current_version = int(champion["model_version"])
    version = config.version
    if not version:
        target = queries.ROLLBACK_TARGET.one(con, current=current_version)
        if target is None:
            raise dg.Failure(
                f"rollback: no earlier champion to restore before version {current_version} (every other one "
                "was rolled back, or there is none); name one with `version` (cl rollback --to)"
            )
        version = target["model_version"]
    version = int(version)
    if version == current_version:
        raise dg.Failure(f"rollback: version {version} is the current champion")
    earlier = of_version(con, version)
    if earlier is None:
        raise dg.Failure(f"rollback: version {version} was never champion; only earlier champions can be restored")
    return Decision(
        "rolled_back",
        version,
        config.reason,
        report_id=earlier["report_id"],
        trigger_id=earlier["trigger_id"],
        training_set_version=int(earlier["training_set_version"]),
        evidence={"replaced_version": current_version},
    )


def canary_state(con, canary: dict, policy: PromotionPolicy) -> tuple[str, list[str], dict]:
    """(verdict, reasons, evidence) of a canary from its labeled rows so far."""
    rows = queries.CANARY_ROWS.df(con, canary_id=canary["promotion_id"])
    champion = modeling.metrics(rows["label"], rows["champion_score"])
    challenger = modeling.metrics(rows["label"], rows["challenger_score"])
    batches = int(rows["batch_id"].nunique())
    verdict, reasons = promotion.verdict(champion, challenger, batches, policy.canary_rules())
    evidence = {
        "canary_id": canary["promotion_id"],
        "labeled_batches": sorted(rows["batch_id"].unique().tolist()),
        "champion": champion,
        "challenger": challenger,
    }
    return verdict, reasons, evidence


def _canary(con, policy: PromotionPolicy) -> Decision:
    canary = queries.ACTIVE_CANARY.one(con)
    if canary is None:
        raise dg.Failure("no canary is running")
    verdict, reasons, evidence = canary_state(con, canary, policy)
    if verdict == promotion.WAITING:
        raise dg.Failure(f"canary {canary['promotion_id']} has no verdict yet: {reasons[0]}")
    version = int(canary["model_version"])
    candidate = _candidate(con, version)
    return Decision(
        "canary_promoted" if verdict == promotion.PROMOTE else "canary_rolled_back",
        version,
        "; ".join(reasons),
        report_id=canary["report_id"],
        trigger_id=candidate["trigger_id"],
        training_set_version=int(candidate["training_set_version"]),
        evidence=evidence,
    )


def _record(con, decision: Decision, champion: dict | None, mode: str, run_id: str) -> None:
    now = datetime.now()
    previous = None if champion is None else int(champion["model_version"])
    append_row(
        con,
        "promotions",
        {
            "promotion_id": f"promotion-{uuid.uuid4().hex[:8]}",
            "decided_at": now,
            "action": decision.action,
            "mode": mode,
            "model_version": decision.version,
            "champion_version": previous,
            "reason": decision.reason,
            "actor": decision.actor,
            "evidence": decision.evidence,
            "report_id": decision.report_id,
            "trigger_id": decision.trigger_id,
            "dagster_run_id": run_id,
        },
    )
    if not decision.changes_champion:
        return
    holdout = queries.HOLDOUT_FIGURES_OF_REPORT.one(con, report_id=decision.report_id, slice=modeling.OVERALL)
    append_row(
        con,
        "champion_history",
        {
            "model_version": decision.version,
            "promoted_at": now,
            "previous_version": previous,
            "reason": decision.reason if decision.action == "promoted" else f"{decision.action}: {decision.reason}",
            "report_id": decision.report_id,
            "trigger_id": decision.trigger_id,
            "training_set_version": decision.training_set_version,
            "holdout_accuracy": None if holdout is None else holdout["accuracy"],
            "holdout_roc_auc": None if holdout is None else holdout["roc_auc"],
            "dagster_run_id": run_id,
        },
    )
    if decision.action != "rolled_back":
        queries.MARK_TRIGGER_PROMOTED.run(con, trigger_id=decision.trigger_id)


def _already_decided(con, decision: Decision) -> str | None:
    """The promotion already recorded for this gate decision (same report, same action), if any."""
    if decision.report_id is None:
        return None
    row = queries.PROMOTION_OF_REPORT.one(con, report_id=decision.report_id, action=decision.action)
    return row["promotion_id"] if row else None


def decided_previous(con, promotion_id: str) -> int | None:
    row = queries.CHAMPION_BEFORE_PROMOTION.one(con, promotion_id=promotion_id)
    return None if row is None or row["champion_version"] is None else int(row["champion_version"])


@dg.asset(
    deps=["evaluation_report"],
    group_name="deployment",
    kinds={"mlflow", "duckdb"},
    pool="duckdb",
    output_required=False,
)
def champion_model(
    context: dg.AssetExecutionContext,
    config: ChampionConfig,
    warehouse: Warehouse,
    model_registry: ModelRegistry,
    promotion_policy: PromotionPolicy,
):
    """The model version serving predictions (MLflow alias 'champion'): it changes only through a passing
    gate (at once, by canary or by a person's approval) or a person's rollback. Details: docs/assets.md."""
    with warehouse.connect(read_only=True) as con:
        champion = current(con)
        if config.action == PromotionAction.GATE:
            decision = _on_gate(con, promotion_policy, champion)
        elif config.action == PromotionAction.CANARY:
            decision = _canary(con, promotion_policy)
        else:
            if not config.reason.strip():
                raise dg.Failure(f"{config.action.value}: a reason is required; it is recorded with who and when")
            decide = _approve if config.action == PromotionAction.APPROVE else _rollback
            decision = decide(con, config, champion)
            decision.actor = config.by or context.run.tags.get("user") or "unknown"
    version = decision.version
    # DuckDB first, in one transaction, then the aliases: a crash in between leaves DuckDB saying
    # what was decided, and the next writer moves the alias there (replay/recovery.py).
    with warehouse.connect() as con:
        decided = _already_decided(con, decision) if config.action == PromotionAction.GATE else None
        if decided is None:
            con.execute("begin transaction")
            _record(con, decision, champion, promotion_policy.mode.value, context.run.run_id)
            con.execute("commit")
        else:  # a re-executed run (resumed after a crash): the decision stands as recorded
            context.log.info(f"{decision.action} of version {version} was recorded already ({decided})")
            if decision.changes_champion and decision.action != "rolled_back":  # its trigger's row was written again
                queries.MARK_TRIGGER_PROMOTED.run(con, trigger_id=decision.trigger_id)
            previous = decided_previous(con, decided)
            champion = None if previous is None else {"model_version": previous}
        after = current(con)
    failpoints.reached("promotion")  # decided in DuckDB, the alias not yet moved
    if after is not None:
        model_registry.set_alias(registry.CHAMPION, int(after["model_version"]))
    if decision.action in ("promoted", "approved", "canary_promoted", "canary_rolled_back"):
        model_registry.delete_alias(registry.CHALLENGER, version)
    previous = 0 if champion is None else int(champion["model_version"])
    metadata = {
        "decision": decision.action,
        "model_version": version,
        "previous_version": previous,
        "reason": decision.reason,
        "report_id": decision.report_id or "",
        "trigger_id": decision.trigger_id or "",
        **({"decided_by": decision.actor} if decision.actor else {}),
        **({"evidence": dg.MetadataValue.json(decision.evidence)} if decision.evidence else {}),
    }
    if decision.changes_champion:
        metadata["model_uri"] = f"models:/{model_registry.registered_model}@{registry.CHAMPION}"
        yield dg.MaterializeResult(metadata=metadata)
    else:
        context.log.info(f"champion unchanged ({decision.action}, version {version}): {decision.reason}")
        context.log_event(
            dg.AssetObservation(asset_key=context.asset_key, description=decision.reason, metadata=metadata)
        )
