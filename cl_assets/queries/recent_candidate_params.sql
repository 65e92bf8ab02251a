-- The parameters of the newest candidates, newest first: the search's warm start.
select params
from candidate_models
order by trained_at desc
limit $count
