-- Marks a trigger as promoted: the candidate its retrain trained became champion.
update retrain_triggers
set promoted = true
where trigger_id = $trigger_id
