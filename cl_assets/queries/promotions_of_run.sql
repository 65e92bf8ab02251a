-- The promotion decisions a run recorded, newest first.
select *
from promotions
where dagster_run_id = $run_id
order by decided_at desc
