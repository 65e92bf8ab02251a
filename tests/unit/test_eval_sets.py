"""The rows the gate judges on, read from a real DuckDB file: none that either model learned from."""

import pandas as pd

from cl_assets.lib import eval_sets, gate, warehouse


def training_set(version: int, splits: dict[str, str], batch_of: dict[str, str]) -> pd.DataFrame:
    """Training-set rows (entity -> split); batch bN arrived on day N."""
    return pd.DataFrame(
        {
            "version": version,
            "batch_id": [batch_of[e] for e in splits],
            "entity_id": list(splits),
            "arrived_at": [pd.Timestamp(f"2026-01-0{batch_of[e][-1]}") for e in splits],
            "split": list(splits.values()),
            "copy": 0,
        }
    )


def test_rows_a_newer_champion_learned_are_dropped_from_both_models_holdout(tmp_path):
    batch = {"a": "b1", "b": "b2", "c": "b2", "d": "b3", "e": "b3", "f": "b3"}
    # The candidate's set (3) was composed against an earlier champion; the champion now is set 2's.
    candidate_set = training_set(3, {"a": "train", "b": "train", "c": "holdout", "d": "holdout", "e": "holdout"}, batch)
    champion_set = training_set(2, {"a": "train", "c": "train", "d": "holdout", "f": "train"}, batch)
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        for frame in (champion_set, candidate_set):
            warehouse.replace_rows(con, "training_sets", frame, "version", int(frame["version"][0]))
        con.execute("create table batch_features (batch_id varchar, entity_id varchar, arrived_at timestamp)")
        sets = eval_sets.of_candidate(con, {"training_set_version": 3}, {"training_set_version": 2}, rows=10)
        unchanged = eval_sets.of_candidate(con, {"training_set_version": 3}, None, rows=10)
    assert sorted(sets[gate.HOLDOUT]["entity_id"]) == ["d", "e"]  # c was in the champion's train split
    assert sorted(sets[gate.NEWEST]["entity_id"]) == ["d", "e"]
    assert sorted(unchanged[gate.HOLDOUT]["entity_id"]) == ["c", "d", "e"]
