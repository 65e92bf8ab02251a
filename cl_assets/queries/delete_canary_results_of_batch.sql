-- A canary's results on one batch, removed before they are stored again.
delete from canary_results
where canary_id = $canary_id and batch_id = $batch_id
