-- Every row of a training set version, both splits.
select *
from training_sets
where version = $version
