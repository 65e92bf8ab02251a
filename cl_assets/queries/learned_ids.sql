-- The entity ids a model learned from: the train split of its training set (upsampled copies
-- counted once). A new training set never holds them out, and the gate does not judge on them
-- (param: version, the model's training-set version).
select distinct entity_id
from training_sets
where version = $version and split = 'train'
order by entity_id
