-- Every row of a training set version, both splits, by batch and id: what the champion's
-- reference profile is built from.
select *
from training_sets
where version = $version
order by batch_id, entity_id
