-- The champion's realized performance on a batch in one slice (its callers ask for the overall one).
select *
from batch_performance
where batch_id = $batch_id and slice = $slice
