-- A reference profile's values of its numeric columns, sorted within each slice and column.
select
    slice,
    feature,
    value
from reference_values
where profile_id = $profile_id
order by slice, feature, value
