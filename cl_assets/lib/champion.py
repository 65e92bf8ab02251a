"""Reading the current champion, as recorded by the champion_model asset; shared by the stages
that compose, judge and score against it."""

from cl_assets.lib.warehouse import fetch_one, query


def current(con) -> dict | None:
    """The latest row of champion_history, or None before the first promotion."""
    return fetch_one(con, query("current_champion"))


def of_version(con, version: int) -> dict | None:
    """The newest champion_history row of `version`, or None if it never was champion."""
    return fetch_one(con, query("champion_of_version"), {"version": int(version)})


def champion_for(con, trigger_id: str) -> dict | None:
    """The champion a retrain is composed and judged against: the current one, unless this
    trigger's promotion was recorded already (a run done again after a crash), then the one it
    replaced, so the run does again exactly what it did."""
    decided = fetch_one(con, query("promotion_of_trigger"), {"trigger_id": trigger_id})
    if decided is None:
        return current(con)
    if decided["champion_version"] is None:
        return None
    return of_version(con, decided["champion_version"])


def learned_ids(con, champion: dict | None) -> list[str]:
    """The entity ids `champion` (a champion_history row) was trained on; none before the first promotion."""
    if champion is None:
        return []
    rows = con.execute(query("learned_ids"), {"version": int(champion["training_set_version"])}).fetchall()
    return [entity_id for (entity_id,) in rows]
