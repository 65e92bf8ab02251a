-- Labels already stored for one batch.
select
    entity_id,
    label
from labels
where batch_id = $batch_id
