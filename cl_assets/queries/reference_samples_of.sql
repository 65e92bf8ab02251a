-- A reference profile's sample of rows, for the whole-table test.
select *
from reference_samples
where profile_id = $profile_id
