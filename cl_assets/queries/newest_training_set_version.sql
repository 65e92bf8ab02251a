-- The newest training set version.
select max(version) as version
from training_set_versions
