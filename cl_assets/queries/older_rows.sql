-- Labeled rows of batches that arrived before the training windows of both the candidate and
-- the champion, so neither model trained on them: the evaluation report's forgetting sample.
-- A fixed pseudo-random order (a hash of the id), so the same rows are drawn each time
-- (params: versions, the training-set versions of the two models; rows).
with window_start as (

    select min(arrived_at) as arrived_at
    from training_sets
    where version in (select unnest($versions::integer[]))

)

select
    f.*,
    l.label
from batch_features as f
inner join labels as l on f.batch_id = l.batch_id and f.entity_id = l.entity_id
where f.arrived_at < (select arrived_at from window_start)
order by hash(f.batch_id || '/' || f.entity_id), f.batch_id, f.entity_id
limit $rows
