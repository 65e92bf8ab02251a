"""The reference profile drift is measured against: built once, stored in DuckDB, loaded per batch.

Tables (all append-only, keyed by `profile_id`, so every baseline ever used stays queryable):
- `reference_baselines`: one row per profile: the model version, where it came from (the
  champion's training window, or drift a person accepted: who, why, which batches);
- `reference_profiles`: one row per (slice, column): rows, bin edges and shares, category
  counts, standard deviation, and the band of PSI between reference chunks;
- `reference_values`: the sorted reference values of each numeric column (KS, Wasserstein);
- `reference_samples`: a seeded sample of reference rows for the whole-table test.
"""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd

from cl_assets.lib import drift, queries
from cl_assets.lib.warehouse import append_rows, missing, replace_rows

SAMPLE_ROWS = 4000


def build(
    frame: pd.DataFrame, numeric: list[str], categorical: list[str], score_column: str, slice_column: str | None
) -> list[drift.ColumnProfile]:
    """Profiles of every feature and of the scores, over all rows and per slice."""
    parts = [(drift.ALL, frame)]
    if slice_column and slice_column in frame.columns:
        parts += [(str(k), g) for k, g in frame.groupby(drift.as_category(frame[slice_column]).to_numpy(), sort=True)]
    profiles = []
    for slice_value, part in parts:
        for col in numeric:
            profiles.append(
                drift.numeric_profile(col, pd.to_numeric(part[col], errors="coerce"), "numeric", slice_value)
            )
        for col in categorical:
            profiles.append(drift.categorical_profile(col, part[col], slice_value))
        if score_column in part.columns:
            profiles.append(drift.numeric_profile(score_column, part[score_column], "prediction", slice_value))
    return profiles


def store(
    con: duckdb.DuckDBPyConnection,
    profile_id: int,
    baseline: dict,
    profiles: list[drift.ColumnProfile],
    sample: pd.DataFrame,
) -> None:
    """Write one profile and its baseline row, in one transaction."""
    header = pd.DataFrame([{"profile_id": profile_id, **baseline, "created_at": datetime.now()}])
    header["batches"] = header["batches"].map(json.dumps)
    summary = pd.DataFrame(
        [
            {
                "profile_id": profile_id,
                "slice": p.slice,
                "feature": p.feature,
                "kind": p.kind,
                "rows": p.rows,
                "std": p.std,
                "band_mean": p.band_mean,
                "band_sd": p.band_sd,
                "edges": None if p.edges is None else p.edges.tolist(),
                "shares": None if p.shares is None else p.shares.tolist(),
                "categories": p.categories,
                "counts": None if p.counts is None else p.counts.tolist(),
            }
            for p in profiles
        ]
    )
    values = pd.concat(
        [
            pd.DataFrame({"profile_id": profile_id, "slice": p.slice, "feature": p.feature, "value": p.values})
            for p in profiles
            if p.values is not None
        ]
        or [pd.DataFrame(columns=["profile_id", "slice", "feature", "value"])],
        ignore_index=True,
    )
    con.execute("begin transaction")
    try:
        append_rows(con, "reference_baselines", header)
        append_rows(con, "reference_profiles", summary)
        con.register("_values", values)
        queries.INSERT_REFERENCE_VALUES.run(con)
        con.unregister("_values")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    replace_rows(con, "reference_samples", sample.assign(profile_id=profile_id), "profile_id", profile_id)


def current_id(con: duckdb.DuckDBPyConnection) -> int | None:
    row = queries.NEWEST_REFERENCE_PROFILE.one(con)
    return None if row is None or row["profile_id"] is None else int(row["profile_id"])


def baseline(con: duckdb.DuckDBPyConnection, profile_id: int) -> dict | None:
    return queries.REFERENCE_BASELINE.one(con, profile_id=profile_id)


def load(con: duckdb.DuckDBPyConnection, profile_id: int) -> tuple[list[drift.ColumnProfile], pd.DataFrame]:
    """The profiles of `profile_id` and its row sample."""
    summary = queries.REFERENCE_PROFILES_OF.df(con, profile_id=profile_id)
    arrays = queries.REFERENCE_VALUES_OF.run(con, profile_id=profile_id).fetchnumpy()
    keys = np.char.add(np.char.add(arrays["slice"].astype(str), "\x1f"), arrays["feature"].astype(str))
    starts = {}
    if len(keys):
        change = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1], True])
        starts = {keys[a]: (a, b) for a, b in zip(change[:-1], change[1:], strict=True)}
    values = np.asarray(arrays["value"], dtype=float)
    profiles = []
    for r in summary.itertuples():
        span = starts.get(f"{r.slice}\x1f{r.feature}")
        profiles.append(
            drift.ColumnProfile(
                feature=r.feature,
                kind=r.kind,
                slice=r.slice,
                rows=int(r.rows),
                values=values[span[0] : span[1]] if span else (np.array([]) if r.kind != "categorical" else None),
                edges=None if missing(r.edges) else np.asarray(r.edges, dtype=float),
                shares=None if missing(r.shares) else np.asarray(r.shares, dtype=float),
                std=None if pd.isna(r.std) else float(r.std),
                categories=None if missing(r.categories) else [str(c) for c in r.categories],
                counts=None if missing(r.counts) else np.asarray(r.counts, dtype=np.int64),
                band_mean=None if pd.isna(r.band_mean) else float(r.band_mean),
                band_sd=None if pd.isna(r.band_sd) else float(r.band_sd),
            )
        )
    sample = queries.REFERENCE_SAMPLES_OF.df(con, profile_id=profile_id)
    return profiles, sample.drop(columns=["profile_id"])


# Profiles never change once stored, so a process that scores batch after batch loads each
# one once. The key names the database file and the profile's creation time: a state folder
# made again from scratch (`--reset`) reuses profile ids, not creation times.
_LOADED: dict[tuple, tuple[list[drift.ColumnProfile], pd.DataFrame]] = {}


def load_once(con: duckdb.DuckDBPyConnection, base: dict) -> tuple[list[drift.ColumnProfile], pd.DataFrame]:
    """`load` of the profile whose `baseline` row is `base`, remembered per process for the few newest."""
    path = queries.DATABASE_PATH.one(con)["path"]
    key = (path, int(base["profile_id"]), str(base["created_at"]))
    if key not in _LOADED:
        while len(_LOADED) >= 4:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = load(con, int(base["profile_id"]))
    return _LOADED[key]


def sample_rows(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    return frame.sample(n=min(SAMPLE_ROWS, len(frame)), random_state=seed) if len(frame) else frame
