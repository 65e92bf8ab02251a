-- One landed batch as received, without the columns the platform added.
select * exclude (batch_id, arrived_at, source_file)
from raw_batches
where batch_id = $batch_id
