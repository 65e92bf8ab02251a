-- The refit window chosen on each batch a model version scored, the first computed first, with its
-- gain over the champion (priced without the winner's curse where it was): what refit_check sums.
-- ST06: the columns stay in the order refit_check shows them.
select  -- noqa: ST06
    batch_id,
    window_name,
    coalesce(priced_gain, gain) as gain,
    coalesce(priced_gain_se, gain_se) as gain_se,
    accuracy,
    champion_accuracy
from refit_candidates
where model_version = $model_version and chosen
order by computed_at, batch_id
