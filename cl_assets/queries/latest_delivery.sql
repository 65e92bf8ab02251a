-- The latest delivery of one batch for one asset: accepted or quarantined, and why.
select
    status,
    reason,
    rows,
    source_file
from batch_deliveries
where batch_id = $batch_id and asset = $asset
order by validated_at desc
limit 1
