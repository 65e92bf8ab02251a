-- Every drift test of a batch, one row per slice and column, as stored.
select *
from drift_metrics
where batch_id = $batch_id
