-- The reference performance of a model version: its own holdout figures from the evaluation
-- report that promoted it (params: model_version, slice: the overall one).
select
    r.rows,
    r.accuracy,
    r.roc_auc,
    r.positive_rate
from champion_history as h
inner join evaluation_reports as r
    on
        h.report_id = r.report_id and r.model_role = 'candidate'
        and r.eval_set = 'holdout' and r.slice = $slice
where h.model_version = $model_version
order by h.promoted_at desc
limit 1
