-- Entity ids of one accepted batch: the ids its labels may name.
select distinct entity_id
from stg_batches
where batch_id = $batch_id
