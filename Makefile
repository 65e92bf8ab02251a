# Two entry points that work on a machine with only Python 3.11: they bring uv themselves.
UV := $(shell command -v uv 2>/dev/null || echo .tools/uv/bin/uv)

.PHONY: demo test dev lint

$(UV):
	python3 -m venv .tools/uv && .tools/uv/bin/pip install --quiet uv

# The environment, byte-compiled once at install: otherwise the first run of a fresh clone
# spends a minute compiling dagster, GX and MLflow (and `uv run` would recompile on every call).
.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --locked --compile-bytecode && touch $@

demo: .venv/.synced  ## run the loop over the built-in drifting stream (state in .cl/)
	$(UV) run --locked cl demo --reset --report .cl/demo-report.json

test: lint  ## lint, then run the test suite (what CI runs)
	$(UV) run --locked pytest -n auto --maxprocesses 4 --dist loadgroup --no-loadscope-reorder

dev: .venv/.synced  ## open the demo's state in the Dagster UI (dg dev) on http://127.0.0.1:3000
	$(UV) run --locked cl dev

lint: .venv/.synced  ## ruff (Python: lint and formatting) and sqlfluff (the queries, the SQL models)
	$(UV) run --locked ruff check cl_assets tests benchmarks && $(UV) run --locked ruff format --check cl_assets tests benchmarks
	cd cl_assets/queries && $(abspath $(UV)) run --locked sqlfluff lint --disable-progress-bar .
	$(UV) run --locked sqlfluff lint --disable-progress-bar dbt_like_sql
