-- The label-free estimate of the champion's performance on a batch (one row per batch).
select *
from estimated_performance
where batch_id = $batch_id
