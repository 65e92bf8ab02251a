-- How a model version was judged, and whether (and when) it became champion.
select
    g.report_id,
    g.champion_version,
    g.passed,
    g.reasons,
    g.decided_at,
    h.promoted_at,
    h.previous_version,
    (
        select min(n.promoted_at) from champion_history as n
        where n.promoted_at > h.promoted_at
    ) as replaced_at
from gate_decisions as g
left join champion_history as h on g.candidate_version = h.model_version
where g.candidate_version = $version
order by g.decided_at desc, h.promoted_at asc
limit 1
