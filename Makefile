# browserpool: `make run` starts the daemon, `make test` runs the tests. Both set up what they need.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV    := $(VENV)/.installed-dev

.PHONY: setup setup-dev run test fidelity lint bench soak clean docs redis-server redis-sentinel ffmpeg pdftotext chromedriver

# What the daemon needs to run: its runtime dependencies, a Chromium, a redis-server binary, ffmpeg (recordings)
# and chromedriver (WebDriver sessions; Debian's chromium-driver, the same build as its Chromium).
setup: $(STAMP)
	@$(BIN)/python -m workers.chromium.find >/dev/null
	@command -v redis-server >/dev/null || test -x /usr/bin/redis-server || $(MAKE) --no-print-directory redis-server
	@command -v ffmpeg >/dev/null || $(MAKE) --no-print-directory ffmpeg
	@command -v chromedriver >/dev/null || $(MAKE) --no-print-directory chromedriver

# What tests, lint and benchmarks add: the dev extras, Puppeteer, pdftotext (the PDF tests read the text back) and
# redis-sentinel (the failover tests).
setup-dev: setup $(DEV) tests/node/node_modules/.installed
	@command -v pdftotext >/dev/null || $(MAKE) --no-print-directory pdftotext
	@command -v redis-sentinel >/dev/null || test -x /usr/bin/redis-sentinel || $(MAKE) --no-print-directory redis-sentinel

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	@touch $@

# The tests also use the Python client, its own distribution (clients/python).
$(DEV): $(STAMP) clients/python/pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet -e clients/python
	@touch $@

# The CDP tests drive sessions with a real Puppeteer (puppeteer-core: it downloads no browser).
tests/node/node_modules/.installed: tests/node/package.json tests/node/package-lock.json
	@if command -v npm >/dev/null; then \
		cd tests/node && npm ci --silent --no-audit --no-fund && touch node_modules/.installed; \
	else echo "npm not found: the Puppeteer tests will be skipped"; fi

# Tests and the embedded default need a redis-server binary; install Debian's when we can.
redis-server:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing redis-server (Debian package)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	else \
		echo "no redis-server found: install one (apt-get install redis-server) or set BROWSERPOOL_REDIS_URL"; \
	fi

# Session recordings are encoded by ffmpeg (Debian's, with libvpx for WebM).
ffmpeg:
	@$(call apt_install,ffmpeg,ffmpeg,recordings will not work)

pdftotext:
	@$(call apt_install,poppler-utils,pdftotext,the PDF tests will fail)

chromedriver:
	@$(call apt_install,chromium-driver,chromedriver,WebDriver sessions cannot be created)

# $(call apt_install,PACKAGE,COMMAND,WHAT FAILS WITHOUT IT): Debian's package when we are root, else say what to do.
define apt_install
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $(1) (Debian package)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; \
	else \
		echo "no $(2) found: install it (apt-get install $(1)); until then $(3)"; \
	fi
endef

# The failover tests run three sentinels (tests/redis_ha.py; without the package they run redis-server --sentinel).
redis-sentinel:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing redis-sentinel (Debian package)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-sentinel >/dev/null; \
	else \
		echo "no redis-sentinel found: the failover tests use redis-server --sentinel"; \
	fi

run: setup
	$(BIN)/browserpool serve

# Three workers on two cores: the suite mostly waits (browsers, timeouts); four pushed timing tests past their
# bounds. `--dist load` (the default): loadfile and loadscope drop schemathesis's parametrized cases.
# TEST_WORKERS=0 runs it serially.
TEST_WORKERS ?= 3
test: setup-dev
	$(BIN)/pytest -n $(TEST_WORKERS) --dist load

# Real Playwright and Puppeteer scenarios, run against a plain local Chromium and through a pool session.
fidelity: setup-dev
	$(BIN)/pytest -m fidelity tests/fidelity

lint: setup-dev
	$(BIN)/ruff check browserpool orchestrator api workers clients/python tests bench
	$(BIN)/ruff format --check browserpool orchestrator api workers clients/python tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# Benchmarks against a real daemon, Redis and Chromium; prints a table, writes bench/results/latest.json.
bench: setup-dev
	$(BIN)/python -m bench

# Thousands of create/use/close cycles; checks processes, fds, profiles, Redis keys and memory come back.
soak: setup-dev
	$(BIN)/pytest -m soak tests/soak -p no:cacheprovider -o addopts="" --timeout 3600

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info clients/python/*.egg-info clients/python/build

# docs/configuration.md's settings table, rendered from orchestrator/config.py (tests/test_settings_doc.py checks it).
docs: $(STAMP)
	$(BIN)/python -m browserpool.settings_doc
