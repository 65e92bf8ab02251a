-- The canary in progress, if any: the newest promotion decision (a wait for approval aside)
-- when it started a canary. Any later promotion, rollback or verdict ends it.
select *
from promotions
where action <> 'awaiting_approval'
qualify row_number() over (order by decided_at desc) = 1 and action = 'canary_started'
