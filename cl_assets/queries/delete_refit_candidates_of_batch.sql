-- A batch's rows in refit_candidates, removed when its refit is computed again.
delete from refit_candidates
where batch_id = $batch_id
