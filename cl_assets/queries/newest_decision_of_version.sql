-- The action of the newest promotion decision about a model version.
select action
from promotions
where model_version = $version
order by decided_at desc
limit 1
