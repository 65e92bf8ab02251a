-- The candidate a trigger's retrain recorded on a training set version, if any.
select *
from candidate_models
where trigger_id = $trigger_id and training_set_version = $version
