# The two commands: `make run` (demo on a local devnet) and `make test` (whole suite). Both set everything up first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
ROUNDS ?= 20
ARGS ?=

.PHONY: setup run test bench lint chaos clean compile

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	test -x node_modules/.bin/anvil || (echo "anvil missing after npm ci" && exit 1)
	touch $@

run: setup
	$(BIN)/python main.py demo --rounds $(ROUNDS) $(ARGS)

test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider $(ARGS)

bench: setup
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

lint: setup
	$(BIN)/ruff check bot strategies tests benchmarks main.py
	$(BIN)/mypy bot strategies

chaos: setup
	$(BIN)/python -m bot.chaos $(ARGS)

compile: node_modules/.installed
	node contracts/compile.js

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
