-- A trigger's row, removed before it is recorded again (a re-executed run records it once).
delete from retrain_triggers
where trigger_id = $trigger_id
