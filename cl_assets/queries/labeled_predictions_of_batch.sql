-- A batch's scored rows that have a label: the slice, the score and the model that made it, the label.
select
    p.slice,
    p.score,
    p.model_version,
    l.label
from predictions as p
inner join labels as l using (batch_id, entity_id)
where batch_id = $batch_id
