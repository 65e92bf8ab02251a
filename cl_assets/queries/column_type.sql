-- The DuckDB type of one stored column; no row before the table holds it.
select data_type
from information_schema.columns
where table_name = $table_name and column_name = $column_name
