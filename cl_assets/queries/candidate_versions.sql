-- The model version of every recorded candidate.
select model_version
from candidate_models
