-- The batch a training set's window may not reach behind (a restart on decay, its own or inherited).
select window_floor
from training_set_versions
where version = $version
