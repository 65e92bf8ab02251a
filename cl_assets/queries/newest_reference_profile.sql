-- The id of the newest reference profile (null before the first one).
select max(profile_id) as profile_id
from reference_baselines
