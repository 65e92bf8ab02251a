-- The newest champion_history row of one model version.
select *
from champion_history
where model_version = $version
order by promoted_at desc
limit 1
