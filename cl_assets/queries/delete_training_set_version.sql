-- A training set version's record, removed before it is composed again in place.
delete from training_set_versions
where version = $version
