-- The newest training set composed while a model version was champion: the batches a retrain
-- tried since its promotion learned.
select
    version,
    batches
from training_set_versions
where champion_version = $champion_version
order by version desc
limit 1
