"""What a validation leaves behind: check results for the UI, rows for the warehouse."""

import json
from dataclasses import dataclass
from datetime import datetime

import dagster as dg
import duckdb
import numpy as np
import pandas as pd

from cl_assets.lib import contracts, expectations, failpoints, queries
from cl_assets.lib.warehouse import append_row, append_rows

STORE_RULE = "rows_storable"


@dataclass(frozen=True)
class Delivery:
    """One landed file being taken in for an asset's partition."""

    asset: str
    batch_id: str
    source_file: str
    signature: str
    arrived_at: datetime | None
    run_id: str
    subject: str | None = None  # how messages name what was checked; a batch by default

    @property
    def delivery_id(self) -> str:
        return f"{self.asset}/{self.batch_id}@{self.signature}"

    @property
    def who(self) -> str:
        return self.subject or f"batch '{self.batch_id}'"


def check_specs(asset: str, suite: dict, file_check: bool = True) -> list[dg.AssetCheckSpec]:
    """The file check (for landed files), then one check per expectation; ERROR ones block downstream."""
    specs = []
    if file_check:
        specs.append(
            dg.AssetCheckSpec(
                contracts.FILE_CHECK, asset=asset, blocking=True, description=contracts.FILE_CHECK_DESCRIPTION
            )
        )
    for c in contracts.expectation_checks(suite):
        specs.append(
            dg.AssetCheckSpec(c.name, asset=asset, blocking=c.severity == expectations.ERROR, description=c.description)
        )
    return specs


def file_result(asset: str, delivery: Delivery, bad: contracts.BadFile | None) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=contracts.FILE_CHECK,
        passed=bad is None,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{delivery.who}: {bad.reason}" if bad else f"'{delivery.source_file}' was read",
        metadata={
            "batch_id": delivery.batch_id,
            "source_file": delivery.source_file,
            "rule": bad.rule if bad else "none broken",
        },
    )


def outcome_results(
    asset: str, delivery: Delivery, suite: dict, outcomes: list[expectations.Outcome], enforced: bool = True
):
    """An AssetCheckResult per expectation, with what a reviewer needs to act on it. Not
    `enforced`, an ERROR expectation is reported as a warning and blocks nothing."""
    version = f"{suite['name']}@{expectations.suite_sha(suite)}"
    for check, o in zip(contracts.expectation_checks(suite), outcomes, strict=True):
        yield dg.AssetCheckResult(
            asset_key=asset,
            check_name=check.name,
            passed=o.success,
            severity=dg.AssetCheckSeverity.ERROR
            if o.severity == expectations.ERROR and enforced
            else dg.AssetCheckSeverity.WARN,
            description=f"{delivery.who}: " + (o.describe() if not o.success else "met"),
            metadata={
                "batch_id": delivery.batch_id,
                "column": o.column or "(table)",
                "expectation": o.expectation,
                "observed": o.observed[:500],
                "threshold": dg.MetadataValue.json(o.threshold or {}),
                "unexpected_count": o.unexpected_count if o.unexpected_count is not None else 0,
                "unexpected_percent": float(o.unexpected_percent or 0.0),
                "sample": dg.MetadataValue.json(o.sample[:10]),
                "suite": version,
            },
        )


def record_suite(con, suite: dict) -> str:
    sha = expectations.suite_sha(suite)
    if queries.SUITE_RECORDED.one(con, suite=suite["name"], suite_sha=sha) is None:
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
    return sha


def record_validation(con, delivery: Delivery, suite: dict, outcomes: list[expectations.Outcome]) -> None:
    sha = record_suite(con, suite)
    now = datetime.now()
    rows = [
        {
            "batch_id": delivery.batch_id,
            "delivery_id": delivery.delivery_id,
            "asset": delivery.asset,
            "suite": suite["name"],
            "suite_sha": sha,
            "check_name": check.name,
            "expectation": o.expectation,
            "column_name": o.column,
            "severity": o.severity,
            "success": o.success,
            "observed": o.observed,
            "threshold": json.dumps(o.threshold or {}),
            "unexpected_count": o.unexpected_count,
            "unexpected_percent": o.unexpected_percent,
            "sample": json.dumps(o.sample[:10]),
            "validated_at": now,
            "dagster_run_id": delivery.run_id,
        }
        for check, o in zip(contracts.expectation_checks(suite), outcomes, strict=True)
    ]
    if rows:
        append_rows(con, "validation_results", pd.DataFrame(rows))


def record_delivery(con, delivery: Delivery, rows: int | None, status: str, why: str | None) -> None:
    append_row(
        con,
        "batch_deliveries",
        {
            "delivery_id": delivery.delivery_id,
            "batch_id": delivery.batch_id,
            "asset": delivery.asset,
            "source_file": delivery.source_file,
            "file_signature": delivery.signature,
            "rows": rows,
            "status": status,
            "reason": why,
            "arrived_at": delivery.arrived_at,
            "validated_at": datetime.now(),
            "dagster_run_id": delivery.run_id,
        },
    )


def quarantine(con, delivery: Delivery, broken: list[tuple[str, str | None, str]], frame: pd.DataFrame | None) -> None:
    """Record each broken (rule, column, reason) and keep the delivery's rows as received."""
    now = datetime.now()
    for rule, column, why in broken:
        append_row(
            con,
            "quarantine",
            {
                "delivery_id": delivery.delivery_id,
                "batch_id": delivery.batch_id,
                "asset": delivery.asset,
                "source_file": delivery.source_file,
                "rule": rule,
                "column_name": column,
                "reason": why,
                "quarantined_at": now,
                "dagster_run_id": delivery.run_id,
            },
        )
    if frame is None or frame.empty:
        return
    numeric = frame.select_dtypes("number")
    infinite = [c for c in numeric.columns if np.isinf(numeric[c]).any()]
    if infinite:  # JSON has no infinity; keep it as text rather than turn it into null
        frame = frame.astype({c: object for c in infinite})
        for c in infinite:
            frame[c] = frame[c].map(lambda v: str(v) if isinstance(v, float) and np.isinf(v) else v)
    lines = frame.to_json(orient="records", lines=True, date_format="iso", default_handler=str).splitlines()
    rows = pd.DataFrame(
        {
            "delivery_id": delivery.delivery_id,
            "batch_id": delivery.batch_id,
            "asset": delivery.asset,
            "row_number": range(1, len(lines) + 1),
            "row_json": lines,
        }
    )
    queries.DELETE_QUARANTINED_ROWS_OF_DELIVERY.run(con, delivery_id=delivery.delivery_id)
    append_rows(con, "quarantined_rows", rows)


def settle(
    con, delivery: Delivery, suite: dict, frame, bad, outcomes: list[expectations.Outcome], store=None
) -> tuple[str, str | None]:
    """Record the validation and the delivery's fate; quarantine it if an ERROR rule broke.

    An accepted delivery's rows are stored (`store(con)`) before its fate is written, so a
    store that fails quarantines the delivery with the database's reason (rule `rows_storable`)
    instead of leaving it recorded as accepted with no rows.
    Returns the status (accepted, accepted_with_warnings, quarantined) and the reason.
    """
    if bad is not None:
        quarantine(con, delivery, [(bad.rule, None, bad.reason)], frame)
        record_delivery(con, delivery, None, "quarantined", f"{bad.rule}: {bad.reason}")
        return "quarantined", bad.reason
    record_validation(con, delivery, suite, outcomes)
    checks = contracts.expectation_checks(suite)
    broken = [(c.name, o.column, o.describe()) for c, o in zip(checks, outcomes, strict=True) if o.blocking]
    warned = [c.name for c, o in zip(checks, outcomes, strict=True) if not o.success and not o.blocking]
    if not broken and store is not None:
        try:
            store(con)
            failpoints.reached("ingest")  # the rows stored, the delivery's fate not yet written
        except duckdb.Error as exc:
            detail = str(exc).strip().splitlines()[0]
            broken = [(STORE_RULE, None, f"{delivery.who}: its rows could not be stored beside earlier ones: {detail}")]
    if broken:
        quarantine(con, delivery, broken, frame)
        why = "; ".join(f"{rule}: {text}" for rule, _, text in broken)
        record_delivery(con, delivery, len(frame), "quarantined", why)
        return "quarantined", why
    status = "accepted_with_warnings" if warned else "accepted"
    record_delivery(con, delivery, len(frame), status, ", ".join(warned) or None)
    return status, None
