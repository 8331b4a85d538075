# The two commands: `make run` (the edge chat on embedded defaults) and
# `make test` (the whole suite).  Both install what they need first, idempotently.
VENV        ?= .venv
PYTHON      ?= python3
PIP_FLAGS   ?= -q --disable-pip-version-check
STAMP       := $(VENV)/.installed
DATA_DIR    ?= var/edgechat
PYTEST_ARGS ?=

.PHONY: run test setup system-packages python-packages lint clean web-build test-system-packages

run: setup web-build
	$(VENV)/bin/edgechat up --data-dir $(DATA_DIR)

test: setup web-build test-system-packages
	$(VENV)/bin/ruff check components tests
	$(VENV)/bin/pytest $(PYTEST_ARGS)

setup: system-packages python-packages

system-packages:
	@tools/install-system-packages.sh

python-packages: $(STAMP)

# The browser app (web/): npm ci when the lock file changes, esbuild when a
# source changes.  web/dist is built, never committed.
WEB_SRC := web/build.mjs web/index.html $(wildcard web/src/*)

web-build: web/dist/index.html

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	@command -v npm >/dev/null || tools/install-system-packages.sh nodejs npm
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SRC)
	cd web && npm run --silent build

# Only the tests need a browser (headless Debian chromium, driven by Playwright).
test-system-packages:
	@tools/install-system-packages.sh chromium

$(STAMP): pyproject.toml constraints.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -c constraints.txt -e '.[dev,labeler]'
	@touch $@

lint: setup
	$(VENV)/bin/ruff check components tests
	$(VENV)/bin/ruff format --check components tests

clean:
	rm -rf $(VENV) web/node_modules web/dist build *.egg-info components/*.egg-info .pytest_cache .ruff_cache

# The performance suite (docs/performance.md): every scenario, results and plots
# in bench-results/ (gitignored).  BENCH_ARGS=--quick for a few-second check.
BENCH_ARGS ?=
.PHONY: bench
bench: setup
	$(VENV)/bin/pip install $(PIP_FLAGS) -c constraints.txt -e '.[dev,bench]'
	$(VENV)/bin/edgechat bench all --out bench-results $(BENCH_ARGS)

# Hostile input at scale (issue 11): 100,000 generated payloads each on chat/out
# (requests, edits, deletes, moderation) through the real broker and Router, on
# chat/stream through the Stream, and at the Web service's HTTP routes (sessions,
# uploads, pictures); CI runs the same tests with a few thousand.
FUZZ_COUNT ?= 100000
.PHONY: fuzz
fuzz: setup
	EDGECHAT_FUZZ_COUNT=$(FUZZ_COUNT) EDGECHAT_FUZZ_HTTP_COUNT=$(FUZZ_COUNT) \
		$(VENV)/bin/pytest tests/fuzz tests/web/test_service_fuzz.py -q -s --timeout 3600
