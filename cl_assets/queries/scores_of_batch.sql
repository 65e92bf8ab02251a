-- The champion's score of each row of a batch, with the model version that made it.
select
    score,
    model_version
from predictions
where batch_id = $batch_id
