-- A model version: its candidate row, the trigger that led to it, its training set.
select
    c.model_version,
    c.registered_model,
    c.mlflow_run_id,
    c.dagster_run_id,
    c.trained_at,
    c.params,
    c.metrics,
    c.refit_with_holdout,
    t.trigger_id,
    t.kind,
    t.reason,
    t.check_name,
    t.batch_id as trigger_batch,
    t.evidence,
    t.dagster_run_id as trigger_run_id,
    t.triggered_at,
    t.approved_by,
    t.approval_reason,
    s.version as training_set_version,
    s.batches,
    s.rows_train,
    s.rows_holdout,
    s.recipe,
    s.restarted_at,
    s.window_choice,
    s.window_floor
from candidate_models as c
left join retrain_triggers as t using (trigger_id)
left join training_set_versions as s on c.training_set_version = s.version
where c.model_version = $version
