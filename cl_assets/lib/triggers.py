"""What launched a retrain, carried on the run's tags and recorded in the trigger table."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

TRIGGER_ID, KIND, REASON, CHECK, BATCH, EVIDENCE = (
    "cl/trigger_id",
    "cl/trigger_kind",
    "cl/trigger_reason",
    "cl/trigger_check",
    "cl/trigger_batch",
    "cl/trigger_evidence",
)
# a retrain held for a person (RetrainPolicy.approval) runs with these added
APPROVED_BY, APPROVAL_REASON = "cl/approved_by", "cl/approval_reason"


def tags(
    kind: str, reason: str, check: str = "", batch: str = "", evidence: dict | None = None, key: str = ""
) -> dict[str, str]:
    """The tags of a retrain run. `key` (the run request's run key) makes the trigger id: the
    same request always has the same id, and so does a re-execution of its run."""
    trigger_id = {TRIGGER_ID: f"{kind.split('+')[0]}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"} if key else {}
    return {
        **trigger_id,
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
        "trigger_id": run_tags.get(TRIGGER_ID) or f"{kind}-{run_id[:8]}",
        "kind": kind,
        "reason": run_tags.get(REASON, "materialized by hand"),
        "check_name": run_tags.get(CHECK) or None,
        "batch_id": run_tags.get(BATCH) or None,
        "evidence": json.loads(run_tags.get(EVIDENCE, "{}") or "{}"),
        "approved_by": run_tags.get(APPROVED_BY) or None,
        "approval_reason": run_tags.get(APPROVAL_REASON) or None,
    }
