-- A row if this version of an expectation suite (its name and the hash of its body) is recorded already.
select 1 as recorded
from expectation_suites
where suite = $suite and suite_sha = $suite_sha
