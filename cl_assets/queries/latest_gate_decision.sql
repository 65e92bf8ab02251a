-- The newest gate decision, whichever candidate it judged.
select *
from gate_decisions
order by decided_at desc
limit 1
