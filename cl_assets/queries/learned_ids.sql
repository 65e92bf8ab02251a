-- The entity ids a model learned from: the train split of its training set (upsampled copies
-- counted once), and its holdout too when it was refitted with it (refit_with_holdout). A new
-- training set never holds them out, and the gate does not judge on them
-- (param: version, the model's training-set version).
select distinct t.entity_id
from training_sets as t
where
    t.version = $version
    and (
        t.split = 'train'
        or (
            t.split = 'holdout'
            and exists (
                select 1
                from candidate_models as c
                where c.training_set_version = $version and c.refit_with_holdout
            )
        )
    )
order by t.entity_id
