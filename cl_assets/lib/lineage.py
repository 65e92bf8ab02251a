"""Why does a model version exist? Its chain from trigger to promotion, read from the warehouse."""

from __future__ import annotations

import json

from cl_assets.lib import queries


class UnknownVersion(LookupError):
    pass


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def why(con, version: int) -> dict:
    """Trigger → evidence → training set → candidate (MLflow run) → gate → promotion."""
    candidate = queries.WHY_CANDIDATE.one(con, version=version)
    if candidate is None:
        raise UnknownVersion(f"no model version {version} in this state folder")
    judged = queries.WHY_JUDGEMENT.one(con, version=version)
    decisions = queries.PROMOTIONS_OF_VERSION.all(con, version=version)
    return {
        "model_version": version,
        "registered_model": candidate["registered_model"],
        "trigger": {
            "id": candidate["trigger_id"],
            "kind": candidate["kind"],
            "reason": candidate["reason"],
            "check": candidate["check_name"],
            "batch_id": candidate["trigger_batch"],
            "evidence": _json(candidate["evidence"]) or {},
            "at": str(candidate["triggered_at"]),
            "dagster_run_id": candidate["trigger_run_id"],
            "approved_by": candidate["approved_by"],
            "approval_reason": candidate["approval_reason"],
        },
        "training_set": {
            "version": candidate["training_set_version"],
            "batches": _json(candidate["batches"]) or [],
            "rows_train": candidate["rows_train"],
            "rows_holdout": candidate["rows_holdout"],
            "recipe": _json(candidate["recipe"]) or {},
            "restarted_at": candidate["restarted_at"],
            "window_floor": candidate["window_floor"],
            "window_choice": _json(candidate.get("window_choice")) or None,
        },
        "candidate": {
            "mlflow_run_id": candidate["mlflow_run_id"],
            "dagster_run_id": candidate["dagster_run_id"],
            "trained_at": str(candidate["trained_at"]),
            "params": _json(candidate["params"]) or {},
            "metrics": _json(candidate["metrics"]) or {},
            "refit_with_holdout": bool(candidate["refit_with_holdout"]),
        },
        "gate": None
        if judged is None
        else {
            "report_id": judged["report_id"],
            "against_champion": judged["champion_version"],
            "passed": bool(judged["passed"]),
            "reasons": _json(judged["reasons"]) or [],
            "at": str(judged["decided_at"]),
        },
        "decisions": [
            {
                "at": str(d["decided_at"]),
                "action": d["action"],
                "mode": d["mode"],
                "champion_before": d["champion_version"],
                "reason": d["reason"],
                "by": d["actor"],
                "dagster_run_id": d["dagster_run_id"],
            }
            for d in decisions
        ],
        "promotion": None
        if judged is None or judged["promoted_at"] is None
        else {
            "promoted_at": str(judged["promoted_at"]),
            "replaced": judged["previous_version"],
            "replaced_at": None if judged["replaced_at"] is None else str(judged["replaced_at"]),
        },
    }


def render(chain: dict) -> str:
    t, s, c, g, p = chain["trigger"], chain["training_set"], chain["candidate"], chain["gate"], chain["promotion"]
    batches = s["batches"]
    if len(batches) > 1:
        span = f"{batches[0]} .. {batches[-1]} ({len(batches)} batches)"
    else:
        span = f"{batches[0]} (1 batch)" if batches else "no batches"
    if s.get("restarted_at"):
        span += f", the window restarted at {s['restarted_at']} on performance decay"
    elif s.get("window_floor") and batches and batches[0] == s["window_floor"]:
        span += f", the window starting at {s['window_floor']}, where the champion's restarted on performance decay"
    lines = [
        f"model v{chain['model_version']} ({chain['registered_model']})",
        f"  trigger   {t['kind']} at {t['at']}: {t['reason']}",
    ]
    if t["approved_by"]:
        lines.append(f"  approved  by {t['approved_by']}: {t['approval_reason']} (held for approval, then run)")
    for name, detail in list(t["evidence"].items())[:4]:
        items = detail.items() if isinstance(detail, dict) else [("", detail)]
        for feature, stats in list(items)[:6]:
            shown = ", ".join(f"{k} {v}" for k, v in stats.items()) if isinstance(stats, dict) else str(stats)
            lines.append(f"  evidence  {name} {feature}: {shown}"[:200])
    choice = s.get("window_choice")
    lines += [
        f"  trained   training set v{s['version']}: {span}, {s['rows_train']} rows train, {s['rows_holdout']} holdout"
        + (" (judged on the holdout, then refitted with it)" if c.get("refit_with_holdout") else ""),
        *([f"  window    {choice['reason']}"[:300]] if choice else []),
        *(
            f"            {w['window_name']}: log loss {w['log_loss']:.4f}, accuracy {w['accuracy']:.4f}, "
            f"{w['train_rows']} rows"
            for w in (choice or {}).get("candidates", [])
        ),
        f"  candidate MLflow run {c['mlflow_run_id']} (Dagster run {c['dagster_run_id']}), trained {c['trained_at']}",
    ]
    if g is None:
        lines.append("  gate      not judged (the run stopped before the evaluation report)")
    else:
        against = f"champion v{g['against_champion']}" if g["against_champion"] else "no champion"
        verdict = "PASSED" if g["passed"] else "FAILED"
        lines.append(f"  gate      {g['report_id']} against {against}: {verdict}: {'; '.join(g['reasons'])[:300]}")
    for d in chain.get("decisions", []):
        by = f" by {d['by']}" if d["by"] else ""
        lines.append(f"  decision  {d['action']} at {d['at']}{by} ({d['mode']} mode): {d['reason']}"[:300])
    if p is None:
        lines.append("  outcome   never champion")
    else:
        replaced = f", replacing v{p['replaced']}" if p["replaced"] else " (the first model)"
        until = f" until {p['replaced_at']}" if p["replaced_at"] else " (still champion)"
        lines.append(f"  outcome   champion from {p['promoted_at']}{replaced}{until}")
    return "\n".join(lines)
