# Two entry points that work on a machine with only Python 3.11: they bring uv themselves.
UV := $(shell command -v uv 2>/dev/null || echo .tools/uv/bin/uv)

.PHONY: demo test dev lint

$(UV):
	python3 -m venv .tools/uv && .tools/uv/bin/pip install --quiet uv

demo: $(UV)  ## run the loop over the built-in drifting stream (state in .cl/)
	$(UV) run --locked cl demo --reset --report .cl/demo-report.json

test: lint  ## lint, then run the test suite (what CI runs)
	$(UV) run --locked pytest

dev: $(UV)  ## open the demo's state in the Dagster UI on http://localhost:3000
	$(UV) run --locked cl dev

lint: $(UV)  ## ruff: lint and formatting
	$(UV) run --locked ruff check cl_assets tests && $(UV) run --locked ruff format --check cl_assets tests
