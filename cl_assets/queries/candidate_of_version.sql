-- A model version's row of candidate_models.
select *
from candidate_models
where model_version = $version
