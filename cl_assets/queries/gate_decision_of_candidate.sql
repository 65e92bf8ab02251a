-- The newest gate decision about one model version.
select *
from gate_decisions
where candidate_version = $version
order by decided_at desc
limit 1
