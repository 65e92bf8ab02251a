-- A reference profile's baseline row: the model version, and where the profile came from.
select *
from reference_baselines
where profile_id = $profile_id
