-- The reference performance of a model version: its own holdout figures from the evaluation
-- report that promoted it (params: model_version, overall slice name).
select r.rows, r.accuracy, r.roc_auc, r.positive_rate
from champion_history h
join evaluation_reports r on r.report_id = h.report_id and r.model_role = 'candidate'
    and r.eval_set = 'holdout' and r.slice = ?2
where h.model_version = ?1
order by h.promoted_at desc
limit 1
