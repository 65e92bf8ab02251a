"""The evaluation report: candidate and champion judged on the same holdout rows."""

import uuid
from collections.abc import Iterator
from datetime import datetime

import dagster as dg
import pandas as pd

from cl_assets.defs.deployment.champion import current
from cl_assets.defs.quality import records
from cl_assets.defs.resources import Dataset, ModelRegistry, PromotionGate, Warehouse
from cl_assets.defs.training.assets import candidate_model, latest_candidate
from cl_assets.lib import expectations, gate, markdown, modeling
from cl_assets.lib.warehouse import append_row, fetch_df

MODEL_SUITE = "evaluation_report"


def model_view(candidate: dict[str, dict]) -> pd.DataFrame:
    """What the model suite sees: the candidate's metrics, a row per slice and one overall."""
    rows = [{"slice": name, "is_overall": name == modeling.OVERALL, **m} for name, m in candidate.items()]
    return pd.DataFrame(rows)[
        ["slice", "is_overall", "rows", "roc_auc", "accuracy", "log_loss", "calibration_error", "positive_rate"]
    ]


def evaluation_report_asset(suite: dict) -> dg.AssetsDefinition:
    @dg.asset(
        name="evaluation_report",
        deps=[candidate_model],
        group_name="evaluation",
        kinds={"duckdb", "mlflow"},
        pool="duckdb",
        check_specs=records.check_specs("evaluation_report", suite, file_check=False),
        description=(
            "Candidate vs current champion on the candidate's holdout: ROC AUC, log loss, accuracy, "
            "calibration error, overall and per slice, and the gate's verdict. The candidate's own "
            f"metrics are checked against expectations/{MODEL_SUITE}.json (minimum ROC AUC, maximum "
            "calibration error, rows per slice); its ERROR checks block promotion like the gate does."
        ),
    )
    def _evaluation_report(
        context: dg.AssetExecutionContext,
        warehouse: Warehouse,
        dataset: Dataset,
        model_registry: ModelRegistry,
        promotion_gate: PromotionGate,
    ) -> Iterator:
        yield from _report(context, warehouse, dataset, model_registry, promotion_gate, suite)

    return _evaluation_report


def _report(context, warehouse, dataset, model_registry, promotion_gate, suite) -> Iterator:
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
    subject = f"candidate v{models['candidate']}"
    checked = records.Delivery(
        "evaluation_report", report_id, subject, report_id, None, context.run.run_id, subject=f"{subject} ({report_id})"
    )
    # The model's own contract is part of the decision: a candidate that breaks an ERROR
    # expectation is not promoted, however it compares with the champion.
    outcomes = expectations.validate(model_view(results["candidate"]), suite)
    broken = [f"model suite: {o.describe()}" for o in outcomes if o.blocking]
    if broken:
        passed, reasons = False, broken + (reasons if not passed else [])
    now = datetime.now()
    rows = [{"role": role, "slice": name, **m} for role, by_slice in results.items() for name, m in by_slice.items()]
    with warehouse.connect() as con:
        records.record_validation(con, checked, suite, outcomes)
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
                    "positive_rate": r.get("positive_rate"),
                    "log_loss": r["log_loss"],
                    "calibration_error": r["calibration_error"],
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
    table = pd.DataFrame(rows)[
        ["slice", "role", "rows", "roc_auc", "accuracy", "log_loss", "calibration_error"]
    ].sort_values(["slice", "role"])
    yield dg.MaterializeResult(
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
    yield from records.outcome_results("evaluation_report", checked, suite, outcomes)
