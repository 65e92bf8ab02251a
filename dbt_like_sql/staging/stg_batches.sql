-- Typed, cleaned rows of each validated batch: one row per entity, canonical id and time
-- columns, numeric features as doubles with NaN and infinities turned into nulls,
-- categories trimmed, and the slice column named `slice`.
{{ config(materialized='partition', partition_by='batch_id') }}

with source as (

    select * from {{ source('landing', 'raw_batches') }}

),

typed as (

    select
        batch_id,
        cast({{ var('id_column') | ident }} as varchar) as entity_id,
        {% if var('time_column') %}
        -- a time column may be a timestamp or a plain ordinal (a day number): the latter
        -- orders the batches but is no timestamp, so the arrival time stands in for it.
        -- ISO 8601 text with an offset (+02:00, Z) is converted to UTC; without one it is UTC.
            coalesce(
                case
                    when
                        regexp_matches(
                            cast({{ var('time_column') | ident }} as varchar),
                            '\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*([+-]\d{2}(:?\d{2})?|Z)$'
                        )
                        then timezone('UTC', try_cast(cast({{ var('time_column') | ident }} as varchar) as timestamptz))
                end,
                try_cast(cast({{ var('time_column') | ident }} as varchar) as timestamp),
                arrived_at
            ) as event_time,
        {% else %}
            arrived_at as event_time,
        {% endif %}
        {% for col in var('numeric_features') %}
            try_cast({{ col | ident }} as double) as {{ col | ident }},
        {% endfor %}
        {% for col in var('categorical_features') %}
            nullif(trim(cast({{ col | ident }} as varchar)), '') as {{ col | ident }},
        {% endfor %}
        {% if var('slice_column') %}
            coalesce(nullif(trim(cast({{ var('slice_column') | ident }} as varchar)), ''), 'unknown') as slice,
        {% else %}
            'all' as slice,
        {% endif %}
        arrived_at
    from source

)

select
    batch_id,
    entity_id,
    event_time,
    {% for col in var('numeric_features') %}
        case when isfinite({{ col | ident }}) then {{ col | ident }} end as {{ col | ident }},
    {% endfor %}
    {% for col in var('categorical_features') %}
        {{ col | ident }},
    {% endfor %}
    slice,
    arrived_at
from typed
