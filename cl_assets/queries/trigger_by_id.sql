-- A recorded trigger by its id.
select
    trigger_id,
    kind,
    batch_id
from retrain_triggers
where trigger_id = $trigger_id
