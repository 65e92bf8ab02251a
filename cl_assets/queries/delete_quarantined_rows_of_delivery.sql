-- A delivery's rows in quarantined_rows, removed before they are stored again.
delete from quarantined_rows
where delivery_id = $delivery_id
