-- The newest batches a model version scored, newest first (param count: how many).
select batch_id
from predictions
where model_version = $model_version
group by batch_id
order by max(scored_at) desc
limit $count
