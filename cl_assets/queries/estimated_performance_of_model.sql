-- The label-free accuracy and ROC AUC estimated for a batch, if the given model version scored it.
select
    accuracy,
    roc_auc
from estimated_performance
where batch_id = $batch_id and model_version = $model_version
