-- The candidate a trigger's retrain trained.
update retrain_triggers
set model_version = $model_version
where trigger_id = $trigger_id
