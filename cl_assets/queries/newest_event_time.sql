-- The newest event time among accepted batches other than this one.
select max(event_time) as newest
from stg_batches
where batch_id <> $batch_id
