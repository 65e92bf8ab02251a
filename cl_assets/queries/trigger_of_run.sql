-- The trigger a retrain run recorded (retrain_trigger, which may have taken an approved one's).
select
    trigger_id,
    kind,
    batch_id
from retrain_triggers
where dagster_run_id = $run_id
order by triggered_at desc
limit 1
