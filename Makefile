# The two commands: `make run` (demo on a local devnet) and `make test` (whole suite). Both set everything up first.
# Python packages come from requirements.lock (exact versions + sha256 hashes, pip --require-hashes); npm tools from
# package-lock.json (npm ci). `make lock` regenerates the Python lock after a change to pyproject.toml's dependencies.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK ?= requirements.lock
PIP_INSTALL_OPTS ?=
ROUNDS ?= 20
ARGS ?=
JOBS ?= 3

.PHONY: setup pydeps run test bench lint chaos clean compile lock

setup: $(VENV)/.installed node_modules/.installed

# One line per step; pip's own output only when something fails.
$(VENV)/.installed: $(LOCK) pyproject.toml
	@echo "setup: Python venv in $(VENV) ($$($(PY) --version 2>&1))"
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(MAKE) --no-print-directory pydeps VENV=$(VENV) LOCK=$(LOCK)
	@echo "setup: the project itself (editable, no dependencies)"
	@$(BIN)/python -m pip install -qq --disable-pip-version-check --no-deps --no-build-isolation -e . \
		|| { echo "setup: installing the project failed"; exit 1; }
	@touch $@

# Installs exactly what the lock says; a package whose hash differs from the lock's is refused.
pydeps:
	@echo "setup: Python packages from $(LOCK) (pinned, hashes required)"
	@$(BIN)/python -m pip install -qq --disable-pip-version-check --require-hashes $(PIP_INSTALL_OPTS) -r $(LOCK) \
		|| { echo "setup: pip refused $(LOCK) (see above); after editing pyproject.toml run 'make lock'"; exit 1; }

node_modules/.installed: package.json package-lock.json
	@echo "setup: npm tools from package-lock.json (anvil, solc)"
	@npm ci --no-audit --no-fund --loglevel=error >/dev/null
	@test -x node_modules/.bin/anvil || { echo "setup: anvil missing after npm ci"; exit 1; }
	@touch $@

# Regenerate the lock (run after changing dependencies in pyproject.toml; commit the result).
lock: $(VENV)/.installed
	$(BIN)/uv pip compile pyproject.toml --all-extras --generate-hashes --universal --python-version 3.11 \
		--quiet -o $(LOCK)

run: setup
	$(BIN)/python main.py demo --rounds $(ROUNDS) $(ARGS)

test: setup
	@echo "test: pytest (whole suite, $(JOBS) workers: most tests wait on anvil rounds and subprocesses, not the CPU)"
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(JOBS) --durations=20 $(ARGS)

bench: setup
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

lint: setup
	$(BIN)/ruff check bot strategies tests benchmarks main.py
	$(BIN)/mypy bot strategies

chaos: setup
	$(BIN)/python -m devkit.chaos $(ARGS)

compile: node_modules/.installed
	node contracts/compile.js

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
