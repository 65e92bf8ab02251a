-- Challengers that passed the gate and wait for a person (PromotionPolicy mode 'manual'): the
-- newest decision about the version is still its 'awaiting_approval', oldest first.
select
    model_version,
    decided_at,
    champion_version,
    reason,
    report_id,
    trigger_id
from promotions
qualify
    row_number() over (partition by model_version order by decided_at desc) = 1
    and action = 'awaiting_approval'
order by decided_at
