"""The evaluation report: candidate and champion judged on the same holdout rows."""

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import datetime

import dagster as dg
import pandas as pd

from cl_assets.defs.evaluation.policy import PromotionGate
from cl_assets.defs.quality import records
from cl_assets.defs.resources import Dataset, ModelRegistry, Warehouse
from cl_assets.defs.training.assets import candidate_model, latest_candidate
from cl_assets.lib import evaluation_plots, expectations, gate, markdown, modeling, paired, triggers
from cl_assets.lib.champion import champion_for, learned_ids
from cl_assets.lib.warehouse import append_row, append_rows, fetch_df, query

MODEL_SUITE = "evaluation_report"


def warehouse_json(value):
    return json.loads(value) if isinstance(value, str) else value


RULE_COLUMNS = [
    "gate_check",
    "eval_set",
    "slice",
    "metric",
    "candidate",
    "champion",
    "std_error",
    "threshold",
    "passed",
]


def rules_table(rules: list[gate.Rule], with_check: bool = True) -> str:
    """The gate's rules as a markdown table (without the check's name inside one check's metadata)."""
    columns = RULE_COLUMNS if with_check else RULE_COLUMNS[1:]
    return markdown.table(pd.DataFrame([r.as_row() for r in rules])[columns])


def model_view(candidate: dict[str, dict]) -> pd.DataFrame:
    """What the model suite sees: the candidate's metrics, a row per slice and one overall."""
    rows = [{"slice": name, "is_overall": name == modeling.OVERALL, **m} for name, m in candidate.items()]
    return pd.DataFrame(rows)[
        ["slice", "is_overall", "rows", "roc_auc", "accuracy", "log_loss", "calibration_error", "positive_rate"]
    ]


GATE_CHECKS = {
    gate.VALUE: "Value thresholds of the PromotionGate: the candidate's holdout ROC AUC, overall "
    "(min_roc_auc) and in every slice with enough rows (min_slice_roc_auc). Blocking.",
    gate.CHANGE: "Change thresholds against the champion, on the same rows: ROC AUC may drop at most "
    "max_auc_drop (absolute) and max_auc_drop_relative (relative), log loss rise at most "
    "max_log_loss_increase, overall; per slice max_slice_auc_drop / max_slice_auc_drop_relative; on the "
    "newest batch's holdout rows max_newest_auc_drop; on older rows neither model trained on (forgetting) "
    "max_forgetting_auc_drop, when set. With change_confidence set, a rule fails only when the shortfall "
    "exceeds its allowed drop by that confidence's z standard errors of the paired difference (DeLong for "
    "ROC AUC), so small holdouts do not reject on noise; each rule's std_error is in table gate_rules. Blocking.",
    gate.COVERAGE: "Slice coverage: every slice of the training set has at least min_slice_rows holdout "
    "rows; the gate refuses to judge a slice it cannot see (refuse_short_slices). Blocking.",
}


def evaluation_report_asset(suite: dict) -> dg.AssetsDefinition:
    @dg.asset(
        name="evaluation_report",
        deps=[candidate_model],
        group_name="evaluation",
        kinds={"duckdb", "mlflow"},
        pool="duckdb",
        check_specs=[
            *records.check_specs("evaluation_report", suite, file_check=False),
            *[
                dg.AssetCheckSpec(name, asset="evaluation_report", blocking=True, description=text)
                for name, text in GATE_CHECKS.items()
            ],
        ],
        description=(
            "Candidate vs current champion on the same rows, none of which either model learned from: "
            "the candidate's holdout, the newest batch's holdout rows, and a sample of older rows "
            "(forgetting; the candidate's holdout scores are those of the model fitted before its refit "
            "with the holdout, table holdout_scores); ROC AUC, log loss, "
            "accuracy, calibration error, overall and per slice; ROC and calibration plots; and the "
            "gate's verdict, rule by rule (table gate_rules). The candidate's own metrics are checked "
            f"against expectations/{MODEL_SUITE}.json; its ERROR checks block promotion like the gate does."
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


def _eval_sets(con, candidate: dict, champion: dict | None, rows: int) -> dict[str, pd.DataFrame]:
    """The rows both models are judged on, none of which either learned from: the candidate's
    holdout, its newest batch, and older rows (forgetting)."""
    version = int(candidate["training_set_version"])
    versions = [version] + ([int(champion["training_set_version"])] if champion else [])
    holdout = fetch_df(
        con, "select * from training_sets where version = ? and split = 'holdout' and copy = 0", [version]
    )
    # The training set keeps the champion's rows out of its holdout; a champion promoted (or rolled
    # back to) since it was composed may still have learned some: neither model is judged on them.
    holdout = holdout.loc[~holdout["entity_id"].isin(learned_ids(con, champion))]
    newest = holdout.loc[holdout["arrived_at"] == holdout["arrived_at"].max()] if len(holdout) else holdout
    older = fetch_df(con, query("older_rows"), {"versions": versions, "rows": rows})
    return {gate.HOLDOUT: holdout, gate.NEWEST: newest, gate.OLDER: older}


def _difference_errors(scored: dict[str, dict[str, pd.DataFrame]]) -> dict[str, dict[str, dict]]:
    """By eval set, slice and metric: the standard error of the candidate's minus the champion's
    on the same rows (DeLong for ROC AUC, paired rows for log loss)."""
    out: dict[str, dict[str, dict]] = {}
    for name, mine in scored["candidate"].items():
        theirs = scored["champion"].get(name)
        if theirs is None:
            continue
        parts = {modeling.OVERALL: mine.index}
        parts.update({str(value): part.index for value, part in mine.groupby("slice", sort=True)})
        out[name] = {
            part: paired.difference_errors(
                mine.loc[index, "label"], mine.loc[index, "score"], theirs.loc[index, "score"]
            )
            for part, index in parts.items()
        }
    return out


def _report(context, warehouse, dataset, model_registry, promotion_gate, suite) -> Iterator:
    spec = dataset.spec()
    with warehouse.connect(read_only=True) as con:
        candidate = latest_candidate(con)
        trigger_id = triggers.from_tags(context.run.tags, context.run.run_id)["trigger_id"]
        champion = champion_for(con, trigger_id)
        sets = _eval_sets(con, candidate, champion, promotion_gate.forgetting_rows)
        judged = dict(
            con.execute(
                "select entity_id, score from holdout_scores where model_version = ?",
                [int(candidate["model_version"])],
            ).fetchall()
        )
        short = warehouse_json(
            con.execute(
                "select short_slices from training_set_versions where version = ?",
                [int(candidate["training_set_version"])],
            ).fetchall()[0][0]
        )
    models = {"candidate": int(candidate["model_version"])}
    if champion is not None:
        models["champion"] = int(champion["model_version"])
    results: dict[str, dict[str, dict[str, dict]]] = {}
    holdout_scores: dict[str, tuple] = {}
    scored_sets: dict[str, dict[str, pd.DataFrame]] = {}
    for role, version in models.items():
        model = model_registry.load(version)
        results[role] = {}
        for name, rows in sets.items():
            if rows.empty:
                continue
            if role == "candidate" and name in (gate.HOLDOUT, gate.NEWEST) and judged:
                # the holdout's scores of the model fitted before it was refitted with the holdout
                scored = rows.assign(score=rows["entity_id"].astype(str).map(judged).to_numpy(dtype=float))
                if scored["score"].isna().any():
                    raise ValueError(
                        f"candidate v{version}: {int(scored['score'].isna().sum())} of its {name} rows have no "
                        "score in holdout_scores; its training set and scores disagree, so it cannot be judged"
                    )
            else:
                scored = rows.assign(score=modeling.scores(model, rows, spec))
            results[role][name] = modeling.metrics_by_slice(scored)
            scored_sets.setdefault(role, {})[name] = scored
            if name == gate.HOLDOUT:
                holdout_scores[role] = (scored["label"].to_numpy(), scored["score"].to_numpy())
    errors = _difference_errors(scored_sets) if "champion" in scored_sets else None
    verdict = gate.judge(results["candidate"], results.get("champion"), promotion_gate.rules(), short or {}, errors)
    passed, reasons = verdict.passed, verdict.reasons
    # one report per candidate, champion and trigger: a re-executed run (resumed after a crash)
    # replaces its own report instead of adding a second one
    key = f"{models['candidate']}:{models.get('champion')}:{trigger_id}"
    report_id = f"report-{hashlib.sha1(key.encode()).hexdigest()[:8]}"
    subject = f"candidate v{models['candidate']}"
    checked = records.Delivery(
        "evaluation_report", report_id, subject, report_id, None, context.run.run_id, subject=f"{subject} ({report_id})"
    )
    # The model's own contract is part of the decision: a candidate that breaks an ERROR
    # expectation is not promoted, however it compares with the champion.
    outcomes = expectations.validate(model_view(results["candidate"][gate.HOLDOUT]), suite)
    broken = [f"model suite: {o.describe()}" for o in outcomes if o.blocking]
    if broken:
        passed, reasons = False, broken + (reasons if not passed else [])
    if not promotion_gate.enforce:
        would = "pass" if passed else "fail: " + "; ".join(reasons)
        passed, reasons = True, [f"gate not enforced (PromotionGate.enforce is off): it would {would}"]
    now = datetime.now()
    rows = [
        {"role": role, "eval_set": name, "slice": slice_name, **m}
        for role, by_set in results.items()
        for name, by_slice in by_set.items()
        for slice_name, m in by_slice.items()
    ]
    table = pd.DataFrame(rows)[
        ["eval_set", "slice", "role", "rows", "roc_auc", "accuracy", "log_loss", "calibration_error"]
    ].sort_values(["eval_set", "slice", "role"])
    png = evaluation_plots.plot(
        holdout_scores,
        f"{subject} vs {'champion v' + str(models['champion']) if 'champion' in models else 'no champion'}",
    )
    text = "\n".join(
        [
            f"### {subject}: {'PASSED' if passed else 'FAILED'}",
            "",
            *[f"- {r}" for r in reasons],
            "",
            "#### Metrics on the same rows",
            "",
            markdown.table(table),
            "",
            "#### Gate rules",
            "",
            rules_table(verdict.rules),
        ]
    )
    with warehouse.connect() as con:
        con.execute("begin transaction")
        for table in ("evaluation_reports", "gate_rules", "gate_decisions"):
            con.execute(f"delete from {table} where report_id = ?", [report_id])
        con.execute("delete from validation_results where delivery_id = ?", [checked.delivery_id])
        records.record_validation(con, checked, suite, outcomes)
        append_rows(
            con,
            "evaluation_reports",
            pd.DataFrame(
                [
                    {
                        "report_id": report_id,
                        "candidate_version": models["candidate"],
                        "champion_version": models.get("champion"),
                        "model_role": r["role"],
                        "eval_set": r["eval_set"],
                        "slice": r["slice"],
                        "rows": r["rows"],
                        "accuracy": r["accuracy"],
                        "roc_auc": r["roc_auc"],
                        "positive_rate": r.get("positive_rate"),
                        "log_loss": r["log_loss"],
                        "calibration_error": r["calibration_error"],
                        "evaluated_at": now,
                    }
                    for r in rows
                ]
            ),
        )
        if verdict.rules:
            append_rows(
                con,
                "gate_rules",
                pd.DataFrame([r.as_row() for r in verdict.rules]).assign(report_id=report_id, decided_at=now),
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
                "markdown": text,
                "plot_png": png,
            },
        )
        con.execute("commit")
    image = base64.b64encode(png).decode()
    hold = results["candidate"][gate.HOLDOUT][modeling.OVERALL]
    yield dg.MaterializeResult(
        metadata={
            "report_id": report_id,
            "candidate_version": models["candidate"],
            "champion_version": models.get("champion", 0),
            "gate_passed": passed,
            "gate_reasons": dg.MetadataValue.json(reasons),
            "report": dg.MetadataValue.md(f"{text}\n\n![ROC and calibration](data:image/png;base64,{image})"),
            "eval_set_rows": dg.MetadataValue.json({k: len(v) for k, v in sets.items()}),
            "candidate_roc_auc": hold["roc_auc"],
            **(
                {"champion_roc_auc": results["champion"][gate.HOLDOUT][modeling.OVERALL]["roc_auc"]}
                if "champion" in results
                else {}
            ),
        }
    )
    yield from records.outcome_results("evaluation_report", checked, suite, outcomes, promotion_gate.enforce)
    for name in GATE_CHECKS:
        ok, mine = verdict.check(name)
        failed = [r.message for r in mine if not r.passed]
        said = "; ".join(failed) if failed else f"{len(mine)} rules passed"
        yield dg.AssetCheckResult(
            asset_key="evaluation_report",
            check_name=name,
            passed=ok,
            severity=dg.AssetCheckSeverity.ERROR if promotion_gate.enforce else dg.AssetCheckSeverity.WARN,
            description=said if promotion_gate.enforce else f"not enforced (PromotionGate.enforce is off): {said}",
            metadata={
                "report_id": report_id,
                "candidate_version": models["candidate"],
                "rules": dg.MetadataValue.md(rules_table(mine, with_check=False) if mine else "no rule applies"),
            },
        )
