-- A model version's row of awaiting_promotion, if it waits for a person: its newest promotion
-- decision is still 'awaiting_approval'.
select
    model_version,
    decided_at,
    champion_version,
    reason,
    report_id,
    trigger_id
from promotions
where model_version = $version
qualify
    row_number() over (partition by model_version order by decided_at desc) = 1
    and action = 'awaiting_approval'
