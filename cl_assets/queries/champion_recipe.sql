-- The parameters of a model version and the batches of the training set it learned from
-- (param: model_version): what a refit of the champion starts from.
select
    c.params,
    c.training_set_version,
    coalesce(
        (
            select list(distinct s.batch_id order by s.batch_id) from training_sets as s
            where s.version = c.training_set_version
        ),
        []
    ) as batches
from candidate_models as c
where c.model_version = $model_version
order by c.trained_at desc
limit 1
