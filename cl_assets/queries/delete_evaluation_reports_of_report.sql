-- An evaluation report's rows in evaluation_reports, removed before the report is stored again.
delete from evaluation_reports
where report_id = $report_id
