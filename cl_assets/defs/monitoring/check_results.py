"""The monitoring checks' verdicts, also kept in `check_results`: the run report and `cl why` read them there."""

import json
import math
from datetime import datetime

import dagster as dg
import pandas as pd

from cl_assets.defs.resources import Warehouse
from cl_assets.lib import queries
from cl_assets.lib.warehouse import append_rows


def recorded(warehouse: Warehouse, name: str, batch_id: str, version, result: dg.AssetCheckResult):
    """The check's verdict, also kept in `check_results` (the run report and `cl why` read it there)."""
    evidence = result.metadata.get("evidence")
    row = {
        "check_name": name,
        "batch_id": batch_id,
        "model_version": int(version) if version is not None else None,
        "passed": bool(result.passed),
        "description": result.description,
        "evidence": json.dumps(getattr(evidence, "value", None) or {}, default=str),
        "evaluated_at": datetime.now(),
    }
    with warehouse.connect() as con:
        queries.DELETE_CHECK_RESULT.run(con, check_name=name, batch_id=batch_id)
        append_rows(con, "check_results", pd.DataFrame([row]))
    return result


def rounded(value, digits: int, significant: bool = False):
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}") if significant else round(float(value), digits)
