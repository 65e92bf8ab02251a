-- The slices a training set could not hold out enough rows of.
select short_slices
from training_set_versions
where version = $version
