-- The champion a rollback restores when no version is named: the newest earlier champion that
-- is not the current one and was not itself rolled back, so a second rollback goes further
-- back instead of returning to the model the first one replaced.
select model_version
from champion_history
where
    model_version <> $current
    and model_version not in (
        select champion_version from promotions
        where action = 'rolled_back' and champion_version is not null
    )
order by promoted_at desc
limit 1
