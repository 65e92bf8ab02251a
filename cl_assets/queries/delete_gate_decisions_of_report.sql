-- An evaluation report's rows in gate_decisions, removed before the report is stored again.
delete from gate_decisions
where report_id = $report_id
