-- The training set a trigger's retrain composed.
update retrain_triggers
set training_set_version = $version
where trigger_id = $trigger_id
