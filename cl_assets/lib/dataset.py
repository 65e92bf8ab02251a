"""The roles of a dataset's columns: id, time, target, slice, numeric and categorical features."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

# Columns the platform adds to every stored row; a user's column may not use these names.
RESERVED = ("batch_id", "arrived_at", "source_file", "entity_id", "event_time", "slice")


class DatasetError(ValueError):
    """A dataset that cannot be used as described; the message names the column."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    target: str
    id_column: str
    time_column: str | None = None
    slice_column: str | None = None
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def raw_columns(self) -> list[str]:
        """Columns a feature batch file must carry (the target arrives separately, later)."""
        cols = [self.id_column, *([self.time_column] if self.time_column else []), *self.features]
        if self.slice_column and self.slice_column not in cols:
            cols.append(self.slice_column)
        return cols

    def sql_vars(self) -> dict:
        """Variables that `{{ var('...') }}` resolves to in dbt_like_sql models."""
        return {
            "id_column": self.id_column,
            "time_column": self.time_column,
            "slice_column": self.slice_column,
            "numeric_features": list(self.numeric),
            "categorical_features": list(self.categorical),
            "target": self.target,
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> DatasetSpec:
        return cls(**json.loads(Path(path).read_text()))

    def validate(self) -> DatasetSpec:
        named = [self.target, self.id_column, self.time_column, self.slice_column, *self.features]
        for col in filter(None, named):
            if col in RESERVED:
                raise DatasetError(f"column '{col}' uses a name reserved by cl_assets ({', '.join(RESERVED)})")
        overlap = set(self.numeric) & set(self.categorical)
        if overlap:
            raise DatasetError(f"columns {sorted(overlap)} are named both numeric and categorical")
        if self.target in self.features:
            raise DatasetError(f"target column '{self.target}' is also a feature")
        if not self.features:
            raise DatasetError("the dataset has no feature columns")
        return self


def infer_spec(
    frame: pd.DataFrame,
    *,
    name: str,
    target: str,
    id_column: str | None = None,
    time_column: str | None = None,
    slice_column: str | None = None,
    categorical: list[str] | None = None,
    max_categories: int = 50,
) -> DatasetSpec:
    """Give every column a role: named ones as told, the rest numeric or categorical by dtype."""
    for role, col in (("target", target), ("id", id_column), ("time", time_column), ("slice", slice_column)):
        if col and col not in frame.columns:
            raise DatasetError(f"--{role} column '{col}' is not in the file (columns: {', '.join(frame.columns)})")
    for col in categorical or []:
        if col not in frame.columns:
            raise DatasetError(f"--categorical column '{col}' is not in the file")
    labels = set(pd.Series(frame[target]).dropna().unique().tolist())
    if not labels <= {0, 1}:
        raise DatasetError(f"target column '{target}' must hold 0/1 labels; found {sorted(map(str, labels))[:5]}")
    reserved = {target, id_column, time_column}
    forced_cat = set(categorical or [])
    numeric, cats = [], []
    for col in frame.columns:
        if col in reserved:
            continue
        if col in forced_cat or col == slice_column:
            cats.append(col)
        elif pd.api.types.is_numeric_dtype(frame[col]) and not pd.api.types.is_bool_dtype(frame[col]):
            numeric.append(col)
        elif frame[col].nunique(dropna=True) <= max_categories:
            cats.append(col)
        else:
            raise DatasetError(
                f"column '{col}' is text with {frame[col].nunique()} distinct values: "
                "name it with --id, --time or --categorical, or drop it from the file"
            )
    return DatasetSpec(
        name=name,
        target=target,
        id_column=id_column or "row_id",
        time_column=time_column,
        slice_column=slice_column,
        numeric=numeric,
        categorical=cats,
    ).validate()
