-- Features joined with the labels that have arrived, with each batch's recency rank
-- (1 = newest labeled batch). Only batches that passed validation have features.
-- Params: window_batches (the newest N labeled batches; 0: all of them) and also_batches (batch
-- ids kept whatever their recency, e.g. a champion's training batches; [] for none).
-- Ordered, so that a seeded holdout sample and the model trained on the rest are reproducible
-- (a parallel join returns rows in any order).
with labeled as (

    select
        f.*,
        l.label
    from batch_features as f
    inner join labels as l
        on f.batch_id = l.batch_id and f.entity_id = l.entity_id

),

ranked as (

    select
        batch_id,
        row_number() over (order by max(arrived_at) desc, batch_id desc) as recency
    from labeled
    group by batch_id

)

select
    labeled.*,
    ranked.recency
from labeled
inner join ranked using (batch_id)
where $window_batches = 0 or ranked.recency <= $window_batches or list_contains($also_batches, labeled.batch_id)
order by labeled.batch_id, labeled.entity_id
