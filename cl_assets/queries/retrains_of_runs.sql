-- The triggers some runs recorded, the first triggered first, each with the action of the newest
-- promotion decision about the model its retrain trained (param run_ids).
select
    t.*,
    (
        select p.action
        from promotions as p
        where p.model_version = t.model_version
        order by p.decided_at desc
        limit 1
    ) as decision
from retrain_triggers as t
where t.dagster_run_id in (select unnest($run_ids::varchar[]))
order by t.triggered_at
