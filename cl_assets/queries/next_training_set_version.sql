-- The version a new training set takes.
select coalesce(max(version), 0) + 1 as version
from training_set_versions
