"""Data contracts: reading a landed file safely, and naming each expectation as a check.

A landed file is read only if it is a regular file inside the landing folder, no larger than
the configured bound, UTF-8 (for CSV) and parseable. Any other file raises `BadFile` with a
rule name and a sentence a person can act on; nothing is stored from it but that reason.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

FILE_CHECK = "file_is_readable"
FILE_CHECK_DESCRIPTION = (
    "The landed file is a regular file inside the landing folder (no symlink, no path that "
    "leaves it), within the size bound, UTF-8 and parseable as CSV or Parquet with at least a "
    "header. A file that breaks this is quarantined with the rule it broke; its other checks "
    "are not evaluated."
)

# What each expectation type is called in a check name and a sentence.
_SHORT = {
    "expect_table_row_count_to_be_between": ("row_count_in_bounds", "the number of rows is within bounds"),
    "expect_table_columns_to_match_set": ("columns_match_contract", "the columns are exactly the contract's"),
    "expect_column_to_exist": ("present", "the column is present"),
    "expect_column_values_to_not_be_null": ("not_null", "values are not null"),
    "expect_column_values_to_be_unique": ("unique", "values are unique"),
    "expect_column_values_to_be_in_type_list": ("type", "values have one of the allowed types"),
    "expect_column_values_to_be_of_type": ("type", "values have the declared type"),
    "expect_column_values_to_be_between": ("in_range", "values lie within the allowed range"),
    "expect_column_values_to_be_in_set": ("in_allowed_set", "values are among the allowed ones"),
    "expect_column_values_to_not_be_in_set": ("not_in_set", "values are none of the excluded ones"),
    "expect_column_max_to_be_between": ("max_in_range", "the column's maximum is within bounds"),
    "expect_column_min_to_be_between": ("min_in_range", "the column's minimum is within bounds"),
    "expect_column_mean_to_be_between": ("mean_in_range", "the column's mean is within bounds"),
}


class BadFile(Exception):
    """A landed file that cannot be taken in, with the rule it broke."""

    def __init__(self, rule: str, reason: str):
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


@dataclass(frozen=True)
class ExpectationCheck:
    """One expectation of a suite, as the Dagster asset check that reports it."""

    name: str
    index: int  # position in the suite
    expectation: str
    column: str | None
    severity: str
    description: str


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "x"


def expectation_checks(suite: dict) -> list[ExpectationCheck]:
    """A check per expectation, named after what it checks (`meta.check_name` overrides)."""
    out: list[ExpectationCheck] = []
    taken: set[str] = set()
    for i, e in enumerate(suite["expectations"]):
        meta = e.get("meta", {})
        column = e["kwargs"].get("column")
        short, sentence = _SHORT.get(e["type"], (_slug(e["type"].removeprefix("expect_")), e["type"]))
        name = meta.get("check_name") or (f"{_slug(column)}_{short}" if column else short)
        name = _slug(name)
        base, n = name, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        severity = meta.get("severity", "error")
        where = f"Column '{column}': " if column else ""
        notes = f" ({meta['notes']})" if meta.get("notes") else ""
        blocking = "rejects the batch" if severity == "error" else "is reported, the batch is used"
        out.append(
            ExpectationCheck(
                name=name,
                index=i,
                expectation=e["type"],
                column=column,
                severity=severity,
                description=(
                    f"{where}{sentence}{notes}. Suite '{suite['name']}', {e['type']}; "
                    f"severity {severity}: a failure {blocking}."
                ),
            )
        )
    return out


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def read_landed(path: Path, root: Path, max_bytes: int) -> pd.DataFrame:
    """Read a landed CSV or Parquet file, or raise `BadFile` saying which rule it broke."""
    if path.is_symlink():
        raise BadFile("path_in_landing_folder", f"'{path.name}' is a symbolic link; only regular files are read")
    if not _inside(path, root):
        raise BadFile("path_in_landing_folder", f"'{path}' lies outside the landing folder {root}")
    if not path.is_file():
        raise BadFile("path_in_landing_folder", f"'{path.name}' is not a regular file")
    size = path.stat().st_size
    if size > max_bytes:
        raise BadFile("file_size_bound", f"'{path.name}' has {size:,} bytes, over the bound of {max_bytes:,} bytes")
    if size == 0:
        raise BadFile("file_not_empty", f"'{path.name}' is empty (0 bytes): not even a header")
    if path.suffix == ".parquet":
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise BadFile("file_parseable", f"'{path.name}' is not a readable Parquet file: {exc}") from None
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadFile(
            "file_is_utf8",
            f"'{path.name}' is not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start} "
            "(re-export the file as UTF-8)",
        ) from None
    text = raw.decode("utf-8").removeprefix("\ufeff")  # a byte-order mark is no part of the first name
    _check_csv_shape(path.name, text)
    try:
        frame = pd.read_csv(io.StringIO(text), on_bad_lines="error", skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise BadFile("file_not_empty", f"'{path.name}' holds no header and no rows") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise BadFile(
            "file_parseable", f"'{path.name}' is not a well-formed CSV (truncated or ragged rows?): {detail}"
        ) from None
    return frame


def _check_csv_shape(name: str, text: str) -> None:
    """Every row has as many fields as the header; a one-column header hints at another delimiter."""
    rows = csv.reader(io.StringIO(text))
    try:
        header = next(rows)
    except StopIteration:
        raise BadFile("file_not_empty", f"'{name}' holds no header and no rows") from None
    except csv.Error as exc:
        raise BadFile("file_parseable", f"'{name}' is not a well-formed CSV: {exc}") from None
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise BadFile("columns_unique", f"'{name}' repeats column(s) {repeated} in its header: each column once")
    if len(header) == 1 and (other := next((d for d in (";", "\t", "|") if d in header[0]), None)):
        shown = "tab" if other == "\t" else f"'{other}'"
        raise BadFile("file_parseable", f"'{name}' seems delimited by {shown}, not ',': header {header[0][:80]!r}")
    try:
        for row in rows:
            if row and len(row) != len(header):
                raise BadFile(
                    "file_parseable",
                    f"'{name}' line {rows.line_num} has {len(row)} fields where the header has {len(header)} "
                    "(a truncated or ragged file)",
                )
    except csv.Error as exc:
        raise BadFile("file_parseable", f"'{name}' is not a well-formed CSV at line {rows.line_num}: {exc}") from None


OFFSET = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[+-]\d{2}(?::?\d{2})?|Z)$"  # as stg_batches.sql reads it


def event_times(values: pd.Series) -> pd.Series:
    """Text times as UTC timestamps (ISO 8601, offsets applied, naive ones taken as UTC); others null."""
    text = values.astype("string").str.strip()
    offset = text.str.contains(OFFSET, regex=True, na=False)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    # parsed apart: pandas gives naive times the offset of the aware ones parsed beside them
    for part in (offset, ~offset & text.notna()):
        if part.any():
            out[part] = pd.to_datetime(text[part], errors="coerce", utc=True, format="ISO8601")
    return out


def raw_view(frame: pd.DataFrame, id_column: str, time_column: str | None) -> pd.DataFrame:
    """What the raw suite sees: the batch as received, ids as text, text times parsed.

    Text times are read as ISO 8601 (with or without a time, `T` or a space) and converted to
    UTC by their offset, as stg_batches stores them; any other text (`05/01/2026`, `last
    tuesday`) becomes null, which the suite's not-null check refuses naming the rows. A time
    column of numbers (an ordinal such as a day number) is left as it is.
    """
    view = frame.copy()
    if id_column in view.columns:
        view[id_column] = view[id_column].map(lambda v: None if pd.isna(v) else str(v))
    if time_column in view.columns and not pd.api.types.is_numeric_dtype(view[time_column]):
        parsed = event_times(view[time_column])
        view[time_column] = parsed.dt.tz_localize(None)
    return view


INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")


def ids_match_stored(frame: pd.DataFrame, id_column: str, stored: str | None) -> None:
    """Ids of the type earlier batches stored: text ids (`r3500`) in a feed of integer ids are a
    changed feed, refused naming the column and the first rows, not a store that fails later."""
    if stored not in INTEGER_TYPES or id_column not in frame.columns:
        return
    ids = frame[id_column]
    if pd.api.types.is_integer_dtype(ids):
        return
    as_number = pd.to_numeric(ids, errors="coerce")
    wrong = ids.notna() & (as_number.isna() | (as_number != as_number.round()))
    if wrong.any():
        rows = list(wrong[wrong].index[:5])
        shown = ", ".join(f"{str(ids[r])!r} (row {r + 1})" for r in rows)
        raise BadFile(
            "id_type_matches_stored",
            f"column '{id_column}' holds {int(wrong.sum())} id(s) that are not integers, e.g. {shown}, "
            f"where earlier batches' ids are integers ({stored})",
        )


def leaking_features(
    labeled: pd.DataFrame, numeric: list[str], categorical: list[str], min_rows: int = 30
) -> list[str]:
    """Features that give the label away: a numeric one that separates the classes perfectly
    (ROC AUC 0 or 1), a categorical one whose every category holds a single class."""
    from sklearn.metrics import roc_auc_score

    out = []
    for col in numeric:
        part = labeled[[col, "label"]].dropna()
        if len(part) < min_rows or part["label"].nunique() < 2:
            continue
        auc = roc_auc_score(part["label"].astype(int), pd.to_numeric(part[col]))
        if auc <= 0.001 or auc >= 0.999:
            out.append(col)
    for col in categorical:
        part = labeled[[col, "label"]].dropna()
        levels = part[col].nunique()
        if len(part) < min_rows or part["label"].nunique() < 2 or not 2 <= levels <= len(part) // 5:
            continue  # too few rows, one class, or so many levels that purity means nothing
        if (part.groupby(col)["label"].nunique() == 1).all():
            out.append(col)
    return out


def labels_view(
    frame: pd.DataFrame,
    id_column: str,
    target: str,
    stored: pd.DataFrame,
    features: pd.DataFrame | None = None,
    numeric: list[str] = (),
    categorical: list[str] = (),
) -> pd.DataFrame:
    """What the labels suite sees, in columns that do not depend on the dataset.

    `entity_id` and `label` as delivered; `labels_per_id`: distinct labels this file gives the
    id; `stored_label`: the label already stored for the id in this batch, if any;
    `leaking_feature`: the features of the batch that give these labels away (null if none).
    """
    missing = [c for c in (id_column, target) if c not in frame.columns]
    if missing:
        raise BadFile(
            "columns_present", f"the labels file lacks column(s) {missing}; it needs '{id_column}' and '{target}'"
        )
    view = pd.DataFrame(
        {
            "entity_id": frame[id_column].map(lambda v: None if pd.isna(v) else str(v)),
            "label": frame[target],
        }
    )
    view["labels_per_id"] = view.groupby("entity_id", dropna=False)["label"].transform("nunique").fillna(0).astype(int)
    previous = dict(zip(stored["entity_id"], stored["label"], strict=True)) if len(stored) else {}
    view["stored_label"] = view["entity_id"].map(previous).astype("Int64")
    leaks = None
    if features is not None and len(features):
        labeled = features.merge(view[["entity_id", "label"]], on="entity_id")
        labeled = labeled[pd.to_numeric(labeled["label"], errors="coerce").isin([0, 1])]
        leaks = ", ".join(leaking_features(labeled, list(numeric), list(categorical))) or None
    view["leaking_feature"] = leaks
    return view
