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
from cl_assets.defs.training.candidate import candidate_model, latest_candidate
from cl_assets.lib import eval_sets, evaluation_plots, expectations, gate, markdown, modeling, paired, queries, triggers
from cl_assets.lib.champion import champion_for
from cl_assets.lib.warehouse import append_row, append_rows

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
    gate.CHANGE: "Change thresholds against the champion on the same rows: overall, per slice, on the newest "
    "batch and on older rows; a rule fails only when shown broken at change_confidence. Blocking. "
    "Details: docs/assets.md.",
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
            "Candidate against champion on the same rows neither learned from (holdout, newest batch, older rows), "
            "overall and per slice, with the gate's verdict rule by rule. Details: docs/assets.md."
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
    with warehouse.connect(read_only=True) as con:
        candidate = latest_candidate(con)
        trigger_id = triggers.from_tags(context.run.tags, context.run.run_id)["trigger_id"]
        champion = champion_for(con, trigger_id)
        sets = eval_sets.of_candidate(con, candidate, champion, promotion_gate.forgetting_rows)
        judged = dict(queries.HOLDOUT_SCORES_OF.run(con, version=int(candidate["model_version"])).fetchall())
        found = queries.SHORT_SLICES_OF.one(con, version=int(candidate["training_set_version"]))
        short = warehouse_json(found["short_slices"])
    models = {"candidate": int(candidate["model_version"])}
    if champion is not None:
        models["champion"] = int(champion["model_version"])
    scored = _scored(models, sets, judged, model_registry, dataset.spec())
    results = {
        role: {name: modeling.metrics_by_slice(rows) for name, rows in by_set.items()}
        for role, by_set in scored.items()
    }
    errors = _difference_errors(scored) if "champion" in scored else None
    verdict = gate.judge(results["candidate"], results.get("champion"), promotion_gate.rules(), short or {}, errors)
    # one report per candidate, champion and trigger: a re-executed run (resumed after a crash)
    # replaces its own report instead of adding a second one
    key = f"{models['candidate']}:{models.get('champion')}:{trigger_id}"
    report_id = f"report-{hashlib.sha1(key.encode()).hexdigest()[:8]}"
    subject = f"candidate v{models['candidate']}"
    checked = records.Delivery(
        "evaluation_report", report_id, subject, report_id, None, context.run.run_id, subject=f"{subject} ({report_id})"
    )
    outcomes = expectations.validate(model_view(results["candidate"][gate.HOLDOUT]), suite)
    passed, reasons = _decision(verdict, outcomes, promotion_gate.enforce)
    holdout_scores = {
        role: (by_set[gate.HOLDOUT]["label"].to_numpy(), by_set[gate.HOLDOUT]["score"].to_numpy())
        for role, by_set in scored.items()
        if gate.HOLDOUT in by_set
    }
    against = f"champion v{models['champion']}" if "champion" in models else "no champion"
    png = evaluation_plots.plot(holdout_scores, f"{subject} vs {against}")
    rows = _metric_rows(results)
    text = _markdown(subject, passed, reasons, rows, verdict.rules)
    decision = {
        "report_id": report_id,
        "candidate_version": models["candidate"],
        "champion_version": models.get("champion"),
        "passed": passed,
        "reasons": reasons,
        "decided_at": datetime.now(),
        "dagster_run_id": context.run.run_id,
        "markdown": text,
        "plot_png": png,
    }
    with warehouse.connect() as con:
        _store(con, decision, rows, verdict.rules, checked, suite, outcomes)
    image = base64.b64encode(png).decode()
    yield dg.MaterializeResult(
        metadata={
            "report_id": report_id,
            "candidate_version": models["candidate"],
            "champion_version": models.get("champion", 0),
            "gate_passed": passed,
            "gate_reasons": dg.MetadataValue.json(reasons),
            "report": dg.MetadataValue.md(f"{text}\n\n![ROC and calibration](data:image/png;base64,{image})"),
            "eval_set_rows": dg.MetadataValue.json({k: len(v) for k, v in sets.items()}),
            **{
                f"{role}_roc_auc": results[role][gate.HOLDOUT][modeling.OVERALL]["roc_auc"]
                for role in ("candidate", "champion")
                if role in results
            },
        }
    )
    yield from records.outcome_results("evaluation_report", checked, suite, outcomes, promotion_gate.enforce)
    yield from _gate_check_results(verdict, report_id, models["candidate"], promotion_gate.enforce)


def _scored(models: dict[str, int], sets, judged: dict, model_registry, spec) -> dict[str, dict[str, pd.DataFrame]]:
    """role -> eval set -> its rows with each model's score (the empty sets left out). The candidate's
    holdout scores are those of the model fitted before it was refitted with the holdout."""
    scored: dict[str, dict[str, pd.DataFrame]] = {}
    for role, version in models.items():
        model = model_registry.load(version)
        scored[role] = {}
        for name, rows in sets.items():
            if rows.empty:
                continue
            if role == "candidate" and name in (gate.HOLDOUT, gate.NEWEST) and judged:
                scores = rows.assign(score=rows["entity_id"].astype(str).map(judged).to_numpy(dtype=float))
                if scores["score"].isna().any():
                    raise ValueError(
                        f"candidate v{version}: {int(scores['score'].isna().sum())} of its {name} rows have no "
                        "score in holdout_scores; its training set and scores disagree, so it cannot be judged"
                    )
            else:
                scores = rows.assign(score=modeling.scores(model, rows, spec))
            scored[role][name] = scores
    return scored


def _decision(verdict: gate.Verdict, outcomes: list, enforce: bool) -> tuple[bool, list[str]]:
    """(passed, reasons). The model's own contract is part of the decision: a candidate that breaks
    an ERROR expectation is not promoted, however it compares with the champion. Not enforced,
    every candidate passes, and the reason says what the gate would have decided."""
    passed, reasons = verdict.passed, verdict.reasons
    broken = [f"model suite: {o.describe()}" for o in outcomes if o.blocking]
    if broken:
        passed, reasons = False, broken + (reasons if not passed else [])
    if not enforce:
        would = "pass" if passed else "fail: " + "; ".join(reasons)
        passed, reasons = True, [f"gate not enforced (PromotionGate.enforce is off): it would {would}"]
    return passed, reasons


def _metric_rows(results: dict[str, dict[str, dict[str, dict]]]) -> list[dict]:
    """A row per model role, eval set and slice, with its metrics."""
    return [
        {"role": role, "eval_set": name, "slice": slice_name, **m}
        for role, by_set in results.items()
        for name, by_slice in by_set.items()
        for slice_name, m in by_slice.items()
    ]


def _markdown(subject: str, passed: bool, reasons: list[str], rows: list[dict], rules: list[gate.Rule]) -> str:
    table = pd.DataFrame(rows)[
        ["eval_set", "slice", "role", "rows", "roc_auc", "accuracy", "log_loss", "calibration_error"]
    ].sort_values(["eval_set", "slice", "role"])
    return "\n".join(
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
            rules_table(rules),
        ]
    )


def _store(con, decision: dict, rows: list[dict], rules: list[gate.Rule], checked, suite, outcomes) -> None:
    """The report, its rules, its decision and the model suite's validation, in one transaction
    that first removes what an earlier attempt of the same report stored."""
    report_id, now = decision["report_id"], decision["decided_at"]
    con.execute("begin transaction")
    for delete in (
        queries.DELETE_EVALUATION_REPORTS_OF_REPORT,
        queries.DELETE_GATE_RULES_OF_REPORT,
        queries.DELETE_GATE_DECISIONS_OF_REPORT,
    ):
        delete.run(con, report_id=report_id)
    queries.DELETE_VALIDATION_RESULTS_OF_DELIVERY.run(con, delivery_id=checked.delivery_id)
    records.record_validation(con, checked, suite, outcomes)
    columns = ("rows", "accuracy", "roc_auc", "log_loss", "calibration_error")
    metrics = [
        {
            "report_id": report_id,
            "candidate_version": decision["candidate_version"],
            "champion_version": decision["champion_version"],
            "model_role": r["role"],
            "eval_set": r["eval_set"],
            "slice": r["slice"],
            **{c: r[c] for c in columns},
            "positive_rate": r.get("positive_rate"),
            "evaluated_at": now,
        }
        for r in rows
    ]
    append_rows(con, "evaluation_reports", pd.DataFrame(metrics))
    if rules:
        frame = pd.DataFrame([r.as_row() for r in rules]).assign(report_id=report_id, decided_at=now)
        append_rows(con, "gate_rules", frame)
    append_row(con, "gate_decisions", decision)
    con.execute("commit")


def _gate_check_results(verdict: gate.Verdict, report_id: str, candidate: int, enforce: bool) -> Iterator:
    """The gate's three checks (value, change, coverage), each with its rules."""
    for name in GATE_CHECKS:
        ok, mine = verdict.check(name)
        failed = [r.message for r in mine if not r.passed]
        said = "; ".join(failed) if failed else f"{len(mine)} rules passed"
        yield dg.AssetCheckResult(
            asset_key="evaluation_report",
            check_name=name,
            passed=ok,
            severity=dg.AssetCheckSeverity.ERROR if enforce else dg.AssetCheckSeverity.WARN,
            description=said if enforce else f"not enforced (PromotionGate.enforce is off): {said}",
            metadata={
                "report_id": report_id,
                "candidate_version": candidate,
                "rules": dg.MetadataValue.md(rules_table(mine, with_check=False) if mine else "no rule applies"),
            },
        )
