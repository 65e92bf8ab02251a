-- A reference profile's summary of each column, per slice, by slice and column.
select *
from reference_profiles
where profile_id = $profile_id
order by slice, feature
