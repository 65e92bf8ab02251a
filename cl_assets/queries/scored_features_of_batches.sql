-- The features of some batches with the champion's score of each row, by batch and id: what the
-- reference is built from when a person accepts the drift of those batches (param batch_ids).
select
    f.*,
    p.score
from batch_features as f
inner join predictions as p using (batch_id, entity_id)
where f.batch_id in (select unnest($batch_ids::varchar[]))
order by f.batch_id, f.entity_id
