-- Stores a reference profile's values of its numeric columns, from the frame registered as _values.
insert into reference_values
select
    profile_id,
    slice,
    feature,
    value::double
from _values
