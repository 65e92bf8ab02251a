"""What sqlfluff's jinja templater needs to render dbt_like_sql/ models for linting: the functions
and the filter cl_assets' model renderer (cl_assets/lib/sql_models.py) provides, with stand-in values."""

VARS = {
    "numeric_features": ["x1", "x2"],
    "categorical_features": ["c1"],
    "id_column": "entity_id",
    "time_column": "event_time",
    "slice_column": "segment",
}


def var(name, default=None):
    return VARS.get(name, default)


def ref(name):
    return name


def source(schema, table):
    return table


def config(**_):
    return ""


def _ident(name):
    return '"' + str(name).replace('"', '""') + '"'


SQLFLUFF_JINJA_FILTERS = {"ident": _ident}
