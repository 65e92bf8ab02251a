-- Model inputs per entity and batch: the staged features and the slice, one row per
-- entity id within a batch (the latest event wins when an id repeats). Missing numeric
-- values stay null: the model treats them as missing, the drift monitor counts them.
{{ config(materialized='partition', partition_by='batch_id') }}

with staged as (

    select * from {{ ref('stg_batches') }}

),

deduplicated as (

    select *
    from staged
    qualify row_number() over (partition by entity_id order by event_time desc) = 1

)

select
    batch_id,
    entity_id,
    event_time,
    slice,
    {% for col in var('numeric_features') %}
        {{ col | ident }},
    {% endfor %}
    {% for col in var('categorical_features') %}
        {{ col | ident }},
    {% endfor %}
    arrived_at
from deduplicated
