-- A batch's labeled rows with their features and the champion's score (param: batch_id): what
-- refit_impact compares a refit with.
select
    f.*,
    l.label,
    p.score,
    p.model_version
from batch_features as f
inner join labels as l on f.batch_id = l.batch_id and f.entity_id = l.entity_id
inner join predictions as p on f.batch_id = p.batch_id and f.entity_id = p.entity_id
where f.batch_id = $batch_id
order by f.entity_id
