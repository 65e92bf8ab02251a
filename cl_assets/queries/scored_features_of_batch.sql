-- A batch's features with the champion's score of each row: what its drift is measured on.
select
    f.*,
    p.score
from batch_features as f
inner join predictions as p using (batch_id, entity_id)
where batch_id = $batch_id
