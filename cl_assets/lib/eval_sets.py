"""The rows a candidate and its champion are judged on, read from the warehouse."""

import pandas as pd

from cl_assets.lib import queries
from cl_assets.lib.champion import learned_ids
from cl_assets.lib.gate import HOLDOUT, NEWEST, OLDER


def of_candidate(con, candidate: dict, champion: dict | None, rows: int) -> dict[str, pd.DataFrame]:
    """The rows both models are judged on, none of which either learned from: the candidate's
    holdout, its newest batch, and older rows (forgetting)."""
    version = int(candidate["training_set_version"])
    versions = [version] + ([int(champion["training_set_version"])] if champion else [])
    holdout = queries.HOLDOUT_OF.df(con, version=version)
    # The training set keeps the champion's rows out of its holdout; a champion promoted (or rolled
    # back to) since it was composed may still have learned some: neither model is judged on them.
    holdout = holdout.loc[~holdout["entity_id"].isin(learned_ids(con, champion))]
    newest = holdout.loc[holdout["arrived_at"] == holdout["arrived_at"].max()] if len(holdout) else holdout
    older = queries.OLDER_ROWS.df(con, versions=versions, rows=rows)
    return {HOLDOUT: holdout, NEWEST: newest, OLDER: older}
