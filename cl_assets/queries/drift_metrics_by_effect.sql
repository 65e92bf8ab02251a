-- Every drift test of a batch, one row per slice and column, the largest effect first.
select *
from drift_metrics
where batch_id = $batch_id
order by effect desc
