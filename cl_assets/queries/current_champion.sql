-- The current champion: the newest row of champion_history.
select *
from champion_history
order by promoted_at desc
limit 1
