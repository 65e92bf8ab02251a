"""Plain Python for every stage of the loop: no Dagster imports, tested directly."""
