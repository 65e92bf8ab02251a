"""Great Expectations suites from `expectations/` run as blocking asset checks."""

from datetime import datetime

import dagster as dg

from cl_assets.defs.ingest.assets import raw_batches
from cl_assets.defs.partitions import run_batch
from cl_assets.defs.resources import Dataset, Warehouse
from cl_assets.lib import expectations
from cl_assets.lib.warehouse import append_row, fetch_df, query

SUITE = "raw_batches"


def _record(con, batch_id: str, suite: dict, outcomes: list[expectations.Outcome], run_id: str) -> str:
    sha = expectations.suite_sha(suite)
    if not con.execute(
        "select 1 from expectation_suites where suite = ? and suite_sha = ?", [suite["name"], sha]
    ).fetchall():
        append_row(
            con,
            "expectation_suites",
            {
                "suite": suite["name"],
                "suite_sha": sha,
                "expectations": len(suite["expectations"]),
                "body": suite,
                "first_seen_at": datetime.now(),
            },
        )
    con.execute("delete from validation_results where batch_id = ? and suite = ?", [batch_id, suite["name"]])
    for o in outcomes:
        append_row(
            con,
            "validation_results",
            {
                "batch_id": batch_id,
                "asset": SUITE,
                "suite": suite["name"],
                "suite_sha": sha,
                "expectation": o.expectation,
                "column_name": o.column,
                "severity": o.severity,
                "success": o.success,
                "observed": o.observed,
                "unexpected_count": o.unexpected_count,
                "unexpected_percent": o.unexpected_percent,
                "sample": str(o.sample[:10]),
                "validated_at": datetime.now(),
                "dagster_run_id": run_id,
            },
        )
    return sha


@dg.asset_check(
    asset=raw_batches,
    name="raw_batches_suite",
    blocking=True,
    description=(
        "Runs the Great Expectations suite expectations/raw_batches.json on the batch. An "
        "expectation with meta.severity 'error' that fails rejects the batch: the check fails "
        "with ERROR severity and no feature, prediction or drift is computed from it. Failed "
        "'warning' expectations are reported with WARN severity. Every result is stored in "
        "the validation_results table."
    ),
)
def raw_batches_suite(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, dataset: Dataset
) -> dg.AssetCheckResult:
    batch_id = run_batch(context)
    suite = dataset.suite(SUITE)
    with warehouse.connect() as con:
        frame = fetch_df(con, query("raw_batch"), {"batch_id": batch_id})
    outcomes = expectations.validate(frame, suite)
    with warehouse.connect() as con:
        sha = _record(con, batch_id, suite, outcomes, context.run.run_id)
    errors = [o for o in outcomes if o.blocking]
    warnings = [o for o in outcomes if not o.success and not o.blocking]
    failed = errors or warnings
    table = "\n".join(
        ["| severity | column | expectation | observed | unexpected |", "|---|---|---|---|---|"]
        + [
            f"| {o.severity} | {o.column or ''} | {o.expectation} | {o.observed[:80]} | {o.unexpected_count or ''} |"
            for o in failed
        ]
    )
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR if errors else dg.AssetCheckSeverity.WARN,
        description="; ".join(o.describe() for o in failed)[:2000]
        or f"batch '{batch_id}' meets all {len(outcomes)} expectations",
        metadata={
            "batch_id": batch_id,
            "suite": f"{suite['name']}@{sha}",
            "expectations": len(outcomes),
            "failed_errors": len(errors),
            "failed_warnings": len(warnings),
            "failures": dg.MetadataValue.md(table if failed else "none"),
        },
    )
