# `make test` is the one command that installs what the tests need and runs all of them;
# .ci/run calls it. `make bench` runs every benchmark and prints one table of ratios.
PYTHON ?= python3
CHROMIUM ?= /usr/bin/chromium

.PHONY: test install-test browser lint typecheck pytest bench

test: install-test browser lint typecheck pytest

install-test:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[test]'

# Browser tests drive Debian's chromium through Playwright; never `playwright install`
# (it downloads browsers from the internet).
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; \
	fi
	@$(CHROMIUM) --version

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	PYTHON=$(PYTHON) .ci/lint-imports

typecheck:
	$(PYTHON) -m mypy

# pytest exits 5 when it collected no test: that is a failure here, never a silent pass.
pytest:
	$(PYTHON) -m pytest -q -p no:cacheprovider; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

bench:
	$(PYTHON) bench/run_all.py
