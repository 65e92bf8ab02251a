-- Every promotion decision about a model version, the first made first.
select
    decided_at,
    action,
    mode,
    champion_version,
    reason,
    actor,
    dagster_run_id
from promotions
where model_version = $version
order by decided_at
