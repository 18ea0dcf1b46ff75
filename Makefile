# taxmatch — two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STORE ?= taxmatch-data
DEMO_OUT ?= demo-out

.PHONY: demo test lint typecheck bench bench-scale clean venv

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (taxmatch needs Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/taxmatch demo --store $(STORE) --out $(DEMO_OUT)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# The console's browser tests drive Debian's chromium (never a downloaded browser).
test: $(STAMP) lint
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	$(BIN)/pytest -n 2 --dist worksteal -q

# Large-scale benchmarks, outside CI (see bench/README.md): validation throughput on 1 M
# request rows; accuracy and speed of exact vs plain Splink vs taxmatch on the generator's
# hard batch and on pseudopeople's sample; the 100 k x 1 M-person scale run; and the HTTP
# API on loopback (lookup latency, upload memory, batch throughput; bench/api_load.py) and
# the warm matcher's Python path compared with DuckDB's SQL on its lookups (warm_compare.py).
bench: $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	$(BIN)/python bench/validation.py --rows 1000000
	$(BIN)/python bench/pseudopeople_data.py --out bench-out/pp
	$(BIN)/python bench/matching.py --dataset both
	$(BIN)/python bench/matching.py --dataset generator --people 1000000 --rows 100000
	$(BIN)/python bench/api_load.py --people 1000000 --lookups 300 --upload-rows 1000000
	$(BIN)/python bench/warm_compare.py --store bench-out/api/store-population-1000000 \
		--requests bench-out/api/lookups-population-1000000-300

# The scale curve (bench/README.md): 1 M, 3 M and 5 M people x 100 k and 1 M request rows,
# stage by stage (wall, CPU, peak RSS, rows/s); data, stores and models cached under
# bench-out/scale/. Hours, not minutes: outside CI.
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py --people 1000000,3000000,5000000 --rows 100000,1000000

clean:
	rm -rf $(VENV) $(STORE) $(STORE).keys $(STORE).keys.lock $(DEMO_OUT) bench-out .mypy_cache .ruff_cache .pytest_cache
