-- An evaluation report's rows in gate_rules, removed before the report is stored again.
delete from gate_rules
where report_id = $report_id
