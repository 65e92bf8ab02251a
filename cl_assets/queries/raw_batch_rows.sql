-- The number of stored raw rows of a batch.
select count(*) as row_count
from raw_batches
where batch_id = $batch_id
