-- The training set version a trigger composed already (a re-executed run composes it again, in place).
select max(version) as version
from training_set_versions
where trigger_id = $trigger_id
