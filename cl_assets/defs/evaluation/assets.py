"""The evaluation report: candidate and champion judged on the same holdout rows."""

import uuid
from datetime import datetime

import dagster as dg
import pandas as pd

from cl_assets.defs.deployment.champion import current
from cl_assets.defs.resources import Dataset, ModelRegistry, PromotionGate, Warehouse
from cl_assets.defs.training.assets import candidate_model, latest_candidate
from cl_assets.lib import gate, markdown, modeling
from cl_assets.lib.warehouse import append_row, fetch_df


@dg.asset(deps=[candidate_model], group_name="evaluation", kinds={"duckdb", "mlflow"}, pool="duckdb")
def evaluation_report(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    dataset: Dataset,
    model_registry: ModelRegistry,
    promotion_gate: PromotionGate,
) -> dg.MaterializeResult:
    """Candidate vs current champion on the candidate's holdout: ROC AUC, log loss, accuracy, overall and per slice, and the gate's verdict."""
    spec = dataset.spec()
    with warehouse.connect(read_only=True) as con:
        candidate = latest_candidate(con)
        champion = current(con)
        holdout = fetch_df(
            con,
            "select * from training_sets where version = ? and split = 'holdout'",
            [int(candidate["training_set_version"])],
        )
    models = {"candidate": int(candidate["model_version"])}
    if champion is not None:
        models["champion"] = int(champion["model_version"])
    results: dict[str, dict[str, dict]] = {}
    for role, version in models.items():
        scored = holdout.assign(score=modeling.scores(model_registry.load(version), holdout, spec))
        results[role] = modeling.metrics_by_slice(scored)
    passed, reasons = gate.decide(results["candidate"], results.get("champion"), promotion_gate.rules())
    report_id = f"report-{uuid.uuid4().hex[:8]}"
    now = datetime.now()
    rows = [{"role": role, "slice": name, **m} for role, by_slice in results.items() for name, m in by_slice.items()]
    with warehouse.connect() as con:
        for r in rows:
            append_row(
                con,
                "evaluation_reports",
                {
                    "report_id": report_id,
                    "candidate_version": models["candidate"],
                    "champion_version": models.get("champion"),
                    "model_role": r["role"],
                    "slice": r["slice"],
                    "rows": r["rows"],
                    "accuracy": r["accuracy"],
                    "roc_auc": r["roc_auc"],
                    "log_loss": r["log_loss"],
                    "evaluated_at": now,
                },
            )
        append_row(
            con,
            "gate_decisions",
            {
                "report_id": report_id,
                "candidate_version": models["candidate"],
                "champion_version": models.get("champion"),
                "passed": passed,
                "reasons": reasons,
                "decided_at": now,
                "dagster_run_id": context.run.run_id,
            },
        )
    table = pd.DataFrame(rows)[["slice", "role", "rows", "roc_auc", "accuracy", "log_loss"]].sort_values(
        ["slice", "role"]
    )
    return dg.MaterializeResult(
        metadata={
            "report_id": report_id,
            "candidate_version": models["candidate"],
            "champion_version": models.get("champion", 0),
            "gate_passed": passed,
            "gate_reasons": dg.MetadataValue.json(reasons),
            "report": dg.MetadataValue.md(markdown.table(table)),
            "candidate_roc_auc": results["candidate"][modeling.OVERALL]["roc_auc"],
            **({"champion_roc_auc": results["champion"][modeling.OVERALL]["roc_auc"]} if "champion" in results else {}),
        }
    )
