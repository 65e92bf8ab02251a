-- A candidate's holdout scores, of the model fitted before its refit with the holdout.
select
    entity_id,
    score
from holdout_scores
where model_version = $version
