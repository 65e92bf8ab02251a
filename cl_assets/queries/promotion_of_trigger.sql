-- The first promotion decision recorded for a trigger, with the champion it was judged against.
select champion_version
from promotions
where trigger_id = $trigger_id
order by decided_at
limit 1
