"""What launched a retrain, carried on the run's tags and recorded in the trigger table."""

from __future__ import annotations

import json
from collections.abc import Mapping

KIND, REASON, CHECK, BATCH, EVIDENCE = (
    "cl/trigger_kind",
    "cl/trigger_reason",
    "cl/trigger_check",
    "cl/trigger_batch",
    "cl/trigger_evidence",
)


def tags(kind: str, reason: str, check: str = "", batch: str = "", evidence: dict | None = None) -> dict[str, str]:
    return {
        KIND: kind,
        REASON: reason[:900],
        CHECK: check,
        BATCH: batch,
        EVIDENCE: json.dumps(evidence or {}, default=str)[:4000],
    }


def from_tags(run_tags: Mapping[str, str], run_id: str) -> dict:
    """The trigger record of a run; a run launched by hand is a 'manual' trigger."""
    kind = run_tags.get(KIND, "manual")
    return {
        "trigger_id": f"{kind}-{run_id[:8]}",
        "kind": kind,
        "reason": run_tags.get(REASON, "materialized by hand"),
        "check_name": run_tags.get(CHECK) or None,
        "batch_id": run_tags.get(BATCH) or None,
        "evidence": json.loads(run_tags.get(EVIDENCE, "{}") or "{}"),
    }
