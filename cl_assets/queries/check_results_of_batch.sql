-- The monitoring checks' verdicts on a batch, by check name.
select
    check_name,
    passed
from check_results
where batch_id = $batch_id
