"""What happened to each batch, read back from the warehouse: the demo's timeline and report."""

from __future__ import annotations

from cl_assets.lib import queries
from cl_assets.lib.modeling import OVERALL
from cl_assets.lib.warehouse import number, table_exists


def batch_status(con, batch_id: str) -> dict:
    rows = 0  # raw_batches is created by the first accepted batch: none may be yet
    if table_exists(con, "raw_batches"):
        rows = queries.RAW_BATCH_ROWS.one(con, batch_id=batch_id)["row_count"]
    delivery = latest_delivery(con, batch_id)
    validation = None if delivery is None else delivery["status"] != "quarantined"
    drift = queries.OVERALL_DRIFT_OF_BATCH.df(con, batch_id=batch_id)
    perf = queries.BATCH_PERFORMANCE_OF_SLICE.df(con, batch_id=batch_id, slice=OVERALL)
    estimate = queries.ESTIMATED_PERFORMANCE_OF_BATCH.one(con, batch_id=batch_id)
    verdicts = {
        r["check_name"]: bool(r["passed"])
        for r in queries.CHECK_RESULTS_OF_BATCH.df(con, batch_id=batch_id).to_dict("records")
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
    return queries.LATEST_DELIVERY.one(con, batch_id=batch_id, asset=asset)


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
    return queries.RETRAINS_OF_RUNS.df(con, run_ids=list(run_ids)).to_dict("records")


def champion_version(con) -> int | None:
    row = queries.CURRENT_CHAMPION.one(con)
    return int(row["model_version"]) if row else None


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
