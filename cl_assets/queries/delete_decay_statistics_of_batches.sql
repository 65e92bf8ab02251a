-- A model version's decay detector path on some batches, removed before it is stored again.
delete from decay_statistics
where model_version = $model_version and batch_id in (select unnest($batch_ids::varchar[]))
