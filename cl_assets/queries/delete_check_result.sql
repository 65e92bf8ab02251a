-- A check's recorded verdict on one batch, removed before it is stored again.
delete from check_results
where check_name = $check_name and batch_id = $batch_id
