-- A recorded trigger's whole row, by its id: what became of its retrain, and who approved it.
select *
from retrain_triggers
where trigger_id = $trigger_id
