"""Reading the current champion, as recorded by the champion_model asset."""

from cl_assets.lib.warehouse import fetch_one, query


def current(con) -> dict | None:
    """The latest row of champion_history, or None before the first promotion."""
    return fetch_one(con, "select * from champion_history order by promoted_at desc limit 1")


def learned_ids(con, champion: dict | None) -> list[str]:
    """The entity ids `champion` (a champion_history row) was trained on; none before the first promotion."""
    if champion is None:
        return []
    rows = con.execute(query("learned_ids"), {"version": int(champion["training_set_version"])}).fetchall()
    return [entity_id for (entity_id,) in rows]
