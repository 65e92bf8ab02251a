"""Reading the current champion, as recorded by the champion_model asset; shared by the stages
that compose, judge and score against it."""

from cl_assets.lib import queries


def current(con) -> dict | None:
    """The latest row of champion_history, or None before the first promotion."""
    return queries.CURRENT_CHAMPION.one(con)


def of_version(con, version: int) -> dict | None:
    """The newest champion_history row of `version`, or None if it never was champion."""
    return queries.CHAMPION_OF_VERSION.one(con, version=int(version))


def champion_for(con, trigger_id: str) -> dict | None:
    """The champion a retrain is composed and judged against: the current one, unless this
    trigger's promotion was recorded already (a run done again after a crash), then the one it
    replaced, so the run does again exactly what it did."""
    decided = queries.PROMOTION_OF_TRIGGER.one(con, trigger_id=trigger_id)
    if decided is None:
        return current(con)
    if decided["champion_version"] is None:
        return None
    return of_version(con, decided["champion_version"])


def learned_ids(con, champion: dict | None) -> list[str]:
    """The entity ids `champion` (a champion_history row) was trained on; none before the first promotion."""
    if champion is None:
        return []
    rows = queries.LEARNED_IDS.run(con, version=int(champion["training_set_version"])).fetchall()
    return [entity_id for (entity_id,) in rows]
