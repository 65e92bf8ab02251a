-- A canary's labeled rows: both models' scores on the same rows, with the realized label
-- (params: canary_id).
select
    s.batch_id,
    s.entity_id,
    s.slice,
    s.champion_score,
    s.challenger_score,
    l.label
from canary_scores as s
inner join labels as l using (batch_id, entity_id)
where s.canary_id = $canary_id
order by s.batch_id, s.entity_id
