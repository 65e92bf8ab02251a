-- The model version that scored a batch (null before it is scored).
select max(model_version) as model_version
from predictions
where batch_id = $batch_id
