"""Great Expectations 1.x suites stored as JSON: validate a batch, propose a suite from data.

GX takes seconds to import, so it is imported inside the functions that need it.
Each expectation's `meta.severity` is `error` (the batch is rejected) or `warning`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from cl_assets.lib.dataset import DatasetSpec

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Outcome:
    """The result of one expectation on one batch, in plain Python types."""

    expectation: str
    column: str | None
    severity: str
    success: bool
    observed: str
    unexpected_count: int | None
    unexpected_percent: float | None
    sample: list
    index: int = 0  # position in the suite
    threshold: dict | None = None  # the expectation's arguments, parameters resolved

    @property
    def blocking(self) -> bool:
        return self.severity == ERROR and not self.success

    def describe(self) -> str:
        where = f"column '{self.column}'" if self.column else "the batch"
        detail = f"observed {self.observed}"
        if self.unexpected_count:
            detail += f"; {self.unexpected_count} rows ({self.unexpected_percent:.1f}%) break it"
        if self.sample:
            detail += f", e.g. {self.sample[:5]}"
        return f"{where} fails {self.expectation} ({detail})"


def load_suite(path: Path) -> dict:
    suite = json.loads(Path(path).read_text())
    if "name" not in suite or "expectations" not in suite:
        raise ValueError(f"{path}: a suite needs 'name' and 'expectations'")
    return suite


def suite_sha(suite: dict) -> str:
    return hashlib.sha256(json.dumps(suite, sort_keys=True).encode()).hexdigest()[:12]


def _plain(value):
    """numpy / pandas values as JSON-able Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _exception_message(info) -> str | None:
    """GX nests exception info per metric; return the first message, if any."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message", "")).splitlines()[0][:300]
    for value in info.values():
        message = _exception_message(value)
        if message:
            return message
    return None


@cache
def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _resolve(kwargs: dict, parameters: dict) -> dict:
    """An expectation's arguments with `{"$PARAMETER": name}` replaced, long sets summarized."""
    out = {}
    for key, value in kwargs.items():
        if key in ("column", "result_format"):
            continue
        if isinstance(value, dict) and "$PARAMETER" in value:
            value = parameters.get(value["$PARAMETER"])
        if isinstance(value, list | tuple | set) and len(value) > 20:
            value = f"{len(value)} values"
        out[key] = _plain(value)
    return out


def parameter_names(suite: dict) -> set[str]:
    """The `$PARAMETER` names a suite refers to (values supplied at validation time)."""
    return {
        v["$PARAMETER"]
        for e in suite["expectations"]
        for v in e["kwargs"].values()
        if isinstance(v, dict) and "$PARAMETER" in v
    }


def validate(frame: pd.DataFrame, suite: dict, parameters: dict | None = None) -> list[Outcome]:
    """Run every expectation of `suite` on `frame`; outcomes come back in the suite's order.

    `parameters` supplies the values of `{"$PARAMETER": name}` arguments (GX suite
    parameters), such as the ids already seen in earlier batches.
    """
    parameters = parameters or {}
    missing = parameter_names(suite) - set(parameters)
    if missing:
        raise ValueError(f"suite '{suite['name']}' needs parameters {sorted(missing)}")
    import great_expectations as gx

    context = _context()
    name = f"{suite['name']}_{suite_sha(suite)}"
    try:
        source = context.data_sources.get(name)
    except KeyError:
        source = context.data_sources.add_pandas(name)
    try:
        asset = source.get_asset("batch")
    except LookupError:
        asset = source.add_dataframe_asset("batch")
    try:
        definition = asset.get_batch_definition("whole")
    except KeyError:
        definition = asset.add_batch_definition_whole_dataframe("whole")
    gx_suite = gx.ExpectationSuite(
        name=name,
        expectations=[
            {"type": e["type"], "kwargs": e["kwargs"], "meta": {**e.get("meta", {}), "cl_index": i}}
            for i, e in enumerate(suite["expectations"])
        ],
    )
    batch = definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(
        gx_suite,
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": 10},
        expectation_parameters=parameters,
    )
    outcomes = []
    for r in result.results:
        cfg = r.expectation_config
        index = int(cfg.meta["cl_index"])
        res = r.result or {}
        observed = res.get("observed_value")
        if observed is None and "unexpected_count" in res:
            observed = f"{res.get('unexpected_count', 0)} unexpected of {res.get('element_count', 0)}"
        mismatched = (res.get("details") or {}).get("mismatched")
        if isinstance(mismatched, dict) and not r.success:  # a column set: say which columns
            parts = [f"{k} {sorted(map(str, v))}" for k, v in sorted(mismatched.items()) if v]
            observed = "; ".join(parts) or observed
        error = _exception_message(r.exception_info)
        if error:
            observed = f"could not be evaluated: {error}"
        elif observed is None and cfg.type == "expect_column_to_exist":
            observed = "present" if r.success else "column missing"
        outcomes.append(
            Outcome(
                expectation=cfg.type,
                column=cfg.kwargs.get("column"),
                severity=cfg.meta.get("severity", ERROR),
                success=bool(r.success),
                observed=json.dumps(_plain(observed)) if not isinstance(observed, str) else observed,
                unexpected_count=_plain(res.get("unexpected_count")),
                unexpected_percent=_plain(res.get("unexpected_percent")),
                sample=_plain(res.get("partial_unexpected_list") or [])[:10],
                index=index,
                threshold=_resolve(suite["expectations"][index]["kwargs"], parameters),
            )
        )
    return sorted(outcomes, key=lambda o: o.index)


PLAUSIBLE_FACTOR = 1e6
FLOAT32_MAX = 3.0e38  # XGBoost reads features as float32: beyond this a value becomes infinity


def plausible_bound(values: pd.Series, factor: float = PLAUSIBLE_FACTOR) -> float:
    """The magnitude beyond which a numeric feature's value is absurd rather than drifted:
    `factor` times the largest magnitude the reference holds (at least 1), within float32."""
    finite = values[np.isfinite(values)]
    largest = float(finite.abs().max()) if len(finite) else 0.0
    return float(min(FLOAT32_MAX, factor * max(largest, 1.0)))


def infer_suite(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    name: str = "raw_batches",
    margin: float = 0.5,
    plausible_factor: float = PLAUSIBLE_FACTOR,
) -> dict:
    """Propose a suite for raw feature batches from a reference frame, for a person to review.

    Schema, keys and row counts are errors; value ranges (widened by `margin` times the
    observed span) and category sets are warnings, because drift is not bad data. Infinities
    and absurd magnitudes (beyond `plausible_factor` times the reference's largest, see
    `plausible_bound`) are errors: no drift produces them, and they break the model.
    """
    expectations = _table_and_keys(frame, spec) + _time(frame, spec)
    for col in spec.numeric:
        expectations += _numeric(frame[col], col, margin, plausible_factor)
    for col in spec.categorical:
        seen = sorted(str(v) for v in frame[col].dropna().unique())
        expectations.append(
            _expectation(
                "expect_column_values_to_be_in_set",
                WARNING,
                "categories seen in the reference",
                column=col,
                value_set=seen,
            )
        )
    meta = {
        "proposed_from_rows": len(frame),
        "dataset": spec.name,
        "notes": "error = the batch is quarantined; warning = reported, the batch is used. Review before use.",
    }
    return {"name": name, "expectations": expectations, "meta": meta}


def _expectation(kind: str, severity: str, notes: str, check_name: str | None = None, **kwargs) -> dict:
    meta = {"severity": severity, "notes": notes} | ({"check_name": check_name} if check_name else {})
    return {"type": kind, "kwargs": kwargs, "meta": meta}


def _table_and_keys(frame: pd.DataFrame, spec: DatasetSpec) -> list[dict]:
    """Row count, the exact columns, and ids present, unique and not taken in before."""
    return [
        _expectation(
            "expect_table_row_count_to_be_between",
            ERROR,
            "a batch holds rows, and not absurdly many",
            min_value=1,
            max_value=max(len(frame) * 100, 1000),
        ),
        _expectation(
            "expect_table_columns_to_match_set",
            ERROR,
            "exactly the contract's columns: a missing, extra or renamed column is a changed feed",
            column_set=list(spec.raw_columns),
            exact_match=True,
        ),
        _expectation("expect_column_values_to_not_be_null", ERROR, "every row has an id", column=spec.id_column),
        _expectation(
            "expect_column_values_to_be_unique", ERROR, "ids are unique within a batch", column=spec.id_column
        ),
        _expectation(
            "expect_column_values_to_not_be_in_set",
            ERROR,
            "an id already taken in by an earlier batch means a re-sent or overlapping batch",
            check_name=f"{spec.id_column}_not_seen_before",
            column=spec.id_column,
            value_set={"$PARAMETER": "ids_seen_before"},
        ),
    ]


def _time(frame: pd.DataFrame, spec: DatasetSpec) -> list[dict]:
    """Every row has a time; a timestamp (not an ordinal) lies neither in the future nor far back."""
    if not spec.time_column:
        return []
    out = [_expectation("expect_column_values_to_not_be_null", ERROR, "every row has a time", column=spec.time_column)]
    if not pd.api.types.is_numeric_dtype(frame[spec.time_column]):
        out.append(
            _expectation(
                "expect_column_values_to_be_between",
                ERROR,
                "event times neither after the file's arrival (plus tolerance) nor far before the newest accepted",
                check_name=f"{spec.time_column}_not_future_or_far_past",
                column=spec.time_column,
                min_value={"$PARAMETER": "earliest_event_time"},
                max_value={"$PARAMETER": "latest_event_time"},
            )
        )
    return out


def _numeric(column: pd.Series, col: str, margin: float, plausible_factor: float) -> list[dict]:
    """A numeric feature: numbers, finite and plausible (error), within the reference's range widened
    by `margin` (warning), and nulls no more often than in the reference, with slack (error)."""
    values = pd.to_numeric(column, errors="coerce")
    bound = plausible_bound(values, plausible_factor)
    lo, hi = float(values.min()), float(values.max())
    pad = (hi - lo) * margin or abs(lo) * margin or 1.0
    null_rate = float(values.isna().mean())
    return [
        _expectation(
            "expect_column_values_to_be_in_type_list",
            ERROR,
            "numeric features hold numbers",
            column=col,
            type_list=["int", "int64", "int32", "float", "float64", "float32", "Int64", "Float64"],
        ),
        _expectation(
            "expect_column_values_to_be_between",
            ERROR,
            f"finite and of a plausible magnitude: within {plausible_factor:g} times the reference's largest "
            "(infinity, or a value such as 1e308, is a broken feed, not drift)",
            check_name=f"{col}_finite_and_plausible",
            column=col,
            min_value=-bound,
            max_value=bound,
        ),
        _expectation(
            "expect_column_values_to_be_between",
            WARNING,
            "values within the reference range, with a margin",
            column=col,
            min_value=round(lo - pad, 6),
            max_value=round(hi + pad, 6),
            mostly=0.99,
        ),
        _expectation(
            "expect_column_values_to_not_be_null",
            ERROR,
            "nulls no more often than in the reference, with slack",
            column=col,
            mostly=round(max(0.0, 1 - null_rate - 0.05), 4),
        ),
    ]
