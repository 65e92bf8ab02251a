-- Views over the loop's tables, created after schema.sql and the migrations (a view needs
-- every column it reads).

-- One audit trail, oldest first: why each retrain ran, every promotion decision and
-- rollback, and every accepted drift (a person's re-baseline of the reference).
create or replace view audit_trail as
select
    triggered_at as happened_at,
    'trigger' as event,
    kind as action,
    model_version,
    reason,
    approved_by as actor,
    trigger_id,
    evidence,
    dagster_run_id
from retrain_triggers
union all
select
    decided_at as happened_at,
    'promotion' as event,
    action,
    model_version,
    reason,
    actor,
    trigger_id,
    evidence,
    dagster_run_id
from promotions
union all
select
    created_at as happened_at,
    'reference' as event,
    source as action,
    model_version,
    reason,
    accepted_by as actor,
    null as trigger_id,
    to_json(batches) as evidence,
    dagster_run_id
from reference_baselines
where source = 'accepted_drift';
