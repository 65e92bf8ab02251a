"""Reading the current champion, as recorded by the champion_model asset."""

from cl_assets.lib.warehouse import fetch_one


def current(con) -> dict | None:
    """The latest row of champion_history, or None before the first promotion."""
    return fetch_one(con, "select * from champion_history order by promoted_at desc limit 1")
