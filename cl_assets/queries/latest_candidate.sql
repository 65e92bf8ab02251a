-- The newest candidate model.
select *
from candidate_models
order by trained_at desc
limit 1
