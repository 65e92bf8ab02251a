-- A delivery's validation results, removed before it is validated again.
delete from validation_results
where delivery_id = $delivery_id
