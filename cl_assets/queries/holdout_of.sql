-- A training set's holdout rows (each once: copies come from up-sampling the train split only).
select *
from training_sets
where version = $version and split = 'holdout' and copy = 0
