-- A model version's realized accuracy on every labeled batch it scored, in the order it scored
-- them (params: model_version, overall slice name): what the decay detector reads.
select
    b.batch_id,
    b.rows,
    b.accuracy
from batch_performance as b
inner join (
    select batch_id, min(scored_at) as scored_at
    from predictions
    where model_version = ?1
    group by batch_id
) as p on b.batch_id = p.batch_id
where b.model_version = ?1 and b.slice = ?2
order by p.scored_at, b.batch_id
