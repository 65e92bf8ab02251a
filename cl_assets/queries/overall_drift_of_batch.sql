-- The drift tests of a batch over all its rows (slice '*'), the largest effect first.
select *
from drift_metrics
where batch_id = $batch_id and slice = '*'
order by effect desc
