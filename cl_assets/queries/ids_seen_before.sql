-- Entity ids of every accepted batch other than this one.
select distinct entity_id
from stg_batches
where batch_id <> $batch_id
