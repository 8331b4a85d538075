# The two commands: `make run` (the edge chat on embedded defaults) and
# `make test` (the whole suite).  Both install what they need first, idempotently.
VENV        ?= .venv
PYTHON      ?= python3
PIP_FLAGS   ?= -q --disable-pip-version-check
STAMP       := $(VENV)/.installed
DATA_DIR    ?= var/edgechat
PYTEST_ARGS ?=

.PHONY: run test setup system-packages python-packages lint clean

run: setup
	$(VENV)/bin/edgechat up --data-dir $(DATA_DIR)

test: setup
	$(VENV)/bin/ruff check components tests
	$(VENV)/bin/pytest $(PYTEST_ARGS)

setup: system-packages python-packages

system-packages:
	@tools/install-system-packages.sh

python-packages: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -c constraints.txt -e '.[dev]'
	@touch $@

lint: setup
	$(VENV)/bin/ruff check components tests
	$(VENV)/bin/ruff format --check components tests

clean:
	rm -rf $(VENV) build *.egg-info components/*.egg-info .pytest_cache .ruff_cache
