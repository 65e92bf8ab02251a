"""What happened to each batch, read back from the warehouse: the demo's timeline and report."""

from __future__ import annotations

from cl_assets.lib.modeling import OVERALL
from cl_assets.lib.warehouse import fetch_df, fetch_one, number, query, table_exists


def batch_status(con, batch_id: str) -> dict:
    rows = 0  # raw_batches is created by the first accepted batch: none may be yet
    if table_exists(con, "raw_batches"):
        rows = con.execute("select count(*) from raw_batches where batch_id = ?", [batch_id]).fetchall()[0][0]
    delivery = latest_delivery(con, batch_id)
    validation = None if delivery is None else delivery["status"] != "quarantined"
    drift = fetch_df(
        con, "select * from drift_metrics where batch_id = ? and slice = '*' order by effect desc", [batch_id]
    )
    perf = fetch_df(con, "select * from batch_performance where batch_id = ? and slice = ?", [batch_id, OVERALL])
    estimate = fetch_one(con, "select accuracy, roc_auc from estimated_performance where batch_id = ?", [batch_id])
    verdicts = {
        r["check_name"]: bool(r["passed"])
        for r in fetch_df(con, "select check_name, passed from check_results where batch_id = ?", [batch_id]).to_dict(
            "records"
        )
    }
    return {
        "batch_id": batch_id,
        "rows": int(rows),
        "validation_passed": validation,
        "drift_check_passed": None if drift.empty else not bool(drift["drifted"].any()),
        "drifted_features": drift.loc[drift["drifted"], "feature"].tolist(),
        "drift": {
            r.feature: {
                "method": r.method,
                "statistic": number(r.statistic),
                "p_value": number(r.p_value),
                "psi": number(r.psi),
                "wasserstein": number(r.wasserstein),
                "js": number(r.js),
                "effect": number(r.effect),
                "threshold": number(r.threshold),
                "drifted": bool(r.drifted),
            }
            for r in drift.itertuples()
        },
        "metrics": None
        if perf.empty
        else {"accuracy": number(perf["accuracy"].iloc[0]), "roc_auc": number(perf["roc_auc"].iloc[0])},
        # label-free estimates (null where no champion scored the batch) and the monitoring verdicts
        # (null where the check did not run: no champion yet, or the labels did not arrive)
        "estimated_accuracy": number(estimate["accuracy"]) if estimate else None,
        "estimated_roc_auc": number(estimate["roc_auc"]) if estimate else None,
        "estimated_performance_check_passed": verdicts.get("estimated_performance_check"),
        "performance_check_passed": verdicts.get("performance_check"),
        "refit_check_passed": verdicts.get("refit_check"),
    }


def latest_delivery(con, batch_id: str, asset: str = "raw_batches") -> dict | None:
    return fetch_one(con, query("latest_delivery"), {"batch_id": batch_id, "asset": asset})


def rejection(con, batch_id: str) -> str | None:
    """Why the batch's latest delivery (features, then labels) was quarantined, if it was."""
    for asset in ("raw_batches", "batch_labels"):
        delivery = latest_delivery(con, batch_id, asset)
        if delivery and delivery["status"] == "quarantined":
            return f"{'labels ' if asset == 'batch_labels' else ''}rejected: {delivery['reason']}"
    return None


def retrains(con, run_ids: list[str]) -> list[dict]:
    if not run_ids:
        return []
    marks = ", ".join("?" for _ in run_ids)
    found = fetch_df(
        con,
        "select t.*, (select p.action from promotions p where p.model_version = t.model_version "
        "order by p.decided_at desc limit 1) as decision "
        f"from retrain_triggers t where t.dagster_run_id in ({marks}) order by t.triggered_at",
        run_ids,
    )
    return found.to_dict("records")


def champion_version(con) -> int | None:
    row = con.execute("select model_version from champion_history order by promoted_at desc limit 1").fetchall()
    return int(row[0][0]) if row else None


# the whole-table, score and low-confidence tests, as the timeline names them
SHORT = {"__table__": "[table]", "__prediction_score__": "[scores]", "__low_confidence__": "[low-conf]"}
DRIFT_WIDTH = 42


def line(status: dict, retrain: list[dict], champion: int | None, rejected: str | None = None) -> str:
    valid = {None: "not validated", True: "valid", False: "REJECTED"}[status["validation_passed"]]
    if status["drift_check_passed"] is None:
        drift = "drift: n/a"
    elif status["drift_check_passed"]:
        drift = "no drift"
    else:
        names = [SHORT.get(f, f) for f in status["drifted_features"]]
        names = [n for n in names if n not in SHORT.values()] + [n for n in names if n in SHORT.values()]
        drift = "DRIFT " + ",".join(names)
        if len(drift) > DRIFT_WIDTH:
            drift = drift[: DRIFT_WIDTH - 1] + "…"
    m = status["metrics"]
    perf = "acc —     auc —    " if m is None else f"acc {m['accuracy']:.3f} auc {m['roc_auc'] or float('nan'):.3f}"
    if retrain:
        r = retrain[-1]
        waiting = {"awaiting_approval": "awaits approval", "canary_started": "in canary"}
        outcome = (
            "promoted"
            if r.get("promoted")
            else waiting.get(
                r.get("decision"), "canary rolled back" if r.get("decision") == "canary_rolled_back" else ""
            )
            or ("rejected by gate" if r.get("model_version") else "failed")
        )
        version = (
            f"v{int(r['model_version'])}"
            if r.get("model_version") == r.get("model_version") and r.get("model_version")
            else "—"
        )
        why = f"retrain[{r['kind']}] {version} {outcome}"
    else:
        why = "no retrain"
    champ = f"champion v{champion}" if champion else "no champion"
    text = f"{status['batch_id']:<14} rows {status['rows']:>6}  {valid:<13} {drift:<42} {perf}  {why:<40} {champ}"
    return f"{text}\n{'':<14} {rejected[:300]}" if rejected else text
