-- The candidate windows refit_impact fitted, with the champion's parameters, when a batch's labels
-- arrived: what window 'auto' can take without fitting them again.
select
    window_name,
    window_batches,
    train_rows,
    accuracy,
    log_loss,
    chosen
from refit_candidates
where batch_id = $batch_id and model_version = $model_version
order by train_rows
