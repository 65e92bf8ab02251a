"""Reading the current champion, as recorded by the champion_model asset."""

from cl_assets.lib.warehouse import fetch_one, query


def current(con) -> dict | None:
    """The latest row of champion_history, or None before the first promotion."""
    return fetch_one(con, "select * from champion_history order by promoted_at desc limit 1")


def champion_for(con, trigger_id: str) -> dict | None:
    """The champion a retrain is composed and judged against: the current one, unless this
    trigger's promotion was recorded already (a run done again after a crash), then the one it
    replaced, so the run does again exactly what it did."""
    decided = fetch_one(
        con, "select champion_version from promotions where trigger_id = ? order by decided_at limit 1", [trigger_id]
    )
    if decided is None:
        return current(con)
    if decided["champion_version"] is None:
        return None
    return fetch_one(
        con,
        "select * from champion_history where model_version = ? order by promoted_at desc limit 1",
        [int(decided["champion_version"])],
    )


def learned_ids(con, champion: dict | None) -> list[str]:
    """The entity ids `champion` (a champion_history row) was trained on; none before the first promotion."""
    if champion is None:
        return []
    rows = con.execute(query("learned_ids"), {"version": int(champion["training_set_version"])}).fetchall()
    return [entity_id for (entity_id,) in rows]
