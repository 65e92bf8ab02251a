"""The promotion gate as a blocking check: a failing candidate never becomes champion."""

import json

import dagster as dg

from cl_assets.defs.resources import Warehouse
from cl_assets.lib import queries


def latest_decision(con):
    row = queries.LATEST_GATE_DECISION.one(con)
    if row is None:
        raise dg.Failure("no evaluation report yet: materialize evaluation_report first")
    return row


@dg.asset_check(
    asset="evaluation_report",
    name="promotion_gate",
    blocking=True,
    description=(
        "The promotion decision: passes when the candidate meets the PromotionGate rules and its model suite. "
        "Blocking: a failing candidate never becomes champion. Details: docs/assets.md."
    ),
)
def promotion_gate(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        decision = latest_decision(con)
    reasons = json.loads(decision["reasons"])
    champion = decision["champion_version"]
    return dg.AssetCheckResult(
        passed=bool(decision["passed"]),
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(reasons),
        metadata={
            "report_id": decision["report_id"],
            "candidate_version": decision["candidate_version"],
            "champion_version": champion or 0,
            "reasons": dg.MetadataValue.json(reasons),
        },
    )
