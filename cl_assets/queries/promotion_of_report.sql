-- The first promotion decision of one action recorded for an evaluation report.
select promotion_id
from promotions
where report_id = $report_id and action = $action
order by decided_at
limit 1
