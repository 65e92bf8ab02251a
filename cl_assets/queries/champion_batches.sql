-- A model version's realized accuracy on every labeled batch it scored, in the order it scored
-- them (params: model_version, slice: the overall one): what the decay detector reads.
with first_scored as (
    select
        batch_id,
        min(scored_at) as scored_at
    from predictions
    where model_version = $model_version
    group by batch_id
)

select
    b.batch_id,
    b.rows,
    b.accuracy
from batch_performance as b
inner join first_scored as p on b.batch_id = p.batch_id
where b.model_version = $model_version and b.slice = $slice
order by p.scored_at, b.batch_id
