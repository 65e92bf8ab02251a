-- The stored features of one batch.
select *
from batch_features
where batch_id = $batch_id
