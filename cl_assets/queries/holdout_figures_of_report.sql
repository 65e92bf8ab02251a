-- The candidate's accuracy and ROC AUC on the holdout, in one slice, from an evaluation report:
-- what champion_history records of a new champion.
select
    accuracy,
    roc_auc
from evaluation_reports
where
    report_id = $report_id
    and model_role = 'candidate'
    and eval_set = 'holdout'
    and slice = $slice
