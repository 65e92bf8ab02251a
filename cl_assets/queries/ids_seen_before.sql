-- The ids of the incoming batch (registered as _incoming_ids) that accepted batches other
-- than this one already hold: the overlap only, so the check costs the same at any history.
select distinct s.entity_id
from stg_batches as s
semi join _incoming_ids as i on s.entity_id = i.entity_id
where s.batch_id <> $batch_id
