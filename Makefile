# The README's two commands:
#   make run    installs factorops into .venv/ and serves MCP over stdio for PROJECT (default: here)
#   make test   installs what the tests need into .venv/ and runs all of them; .ci/run calls it
# Nothing is installed outside .venv/, so both work on a system Python that refuses `pip install`
# (PEP 668 "externally-managed-environment": Debian, Ubuntu) as well as on a plain one.
# `make where` prints the absolute path of .venv/bin/factorops, the command MCP client configs run.
# `make bench` runs every benchmark and prints one table of ratios.
# `make mutation` breaks the promise-carrying modules one line at a time (slow; not part of `make test`).
# `make eval-context` scores context_load against aider's repo map on real histories (docs/context-eval.md).

# The interpreter .venv/ is made from (any Python >= 3.11), and the project `make run` serves.
PYTHON ?= python3
PROJECT ?= $(CURDIR)
CHROMIUM ?= /usr/bin/chromium
# Targets use the relative path (make splits names at spaces); commands run in this folder.
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: run install install-test where test browser lint typecheck pytest bench mutation eval-context

run: install
	$(VENV)/bin/factorops serve --project "$(PROJECT)"

where: install
	@echo "$(CURDIR)/$(VENV)/bin/factorops"

# The virtual environment. `python3 -m venv` fails on Debian/Ubuntu without the pythonX.Y-venv
# package: install it with apt-get when we are root (CI) or have sudo; otherwise, or if that fails,
# fall back to `virtualenv` or `uv` when one is on PATH.
$(PY):
	@rm -rf "$(VENV)"
	@if ! "$(PYTHON)" -m venv "$(VENV)" >/dev/null 2>&1; then \
	  rm -rf "$(VENV)"; \
	  ver=$$("$(PYTHON)" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || exit 1; \
	  echo "make: $(PYTHON) -m venv failed (Debian/Ubuntu: python$$ver-venv is not installed)" >&2; \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo=sudo; else sudo=no; fi; \
	  if [ "$$sudo" != no ] && command -v apt-get >/dev/null; then \
	    echo "make: installing python$$ver-venv with apt-get" >&2; \
	    $$sudo apt-get update -qq && \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$$ver-venv" >/dev/null; \
	  fi; \
	  if ! "$(PYTHON)" -m venv "$(VENV)"; then \
	    rm -rf "$(VENV)"; \
	    if command -v virtualenv >/dev/null; then virtualenv -q -p "$(PYTHON)" "$(VENV)"; \
	    elif command -v uv >/dev/null; then uv venv -q --seed -p "$(PYTHON)" "$(VENV)"; \
	    else echo "make: cannot create .venv: install python$$ver-venv (apt-get install python$$ver-venv), virtualenv or uv" >&2; exit 1; fi; \
	  fi; \
	fi
	@$(PY) -m pip --version >/dev/null || { echo "make: $(VENV) has no pip; remove it and retry" >&2; exit 1; }

# Stamps: reinstall when pyproject.toml changes (`rm -rf .venv` starts over).
install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) -e .
	@touch "$@"

install-test: $(VENV)/.installed-test
$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) -e '.[test]'
	@touch "$@" "$(VENV)/.installed"

test: install-test browser lint typecheck pytest

# Browser tests drive Debian's chromium through Playwright; never `playwright install`
# (it downloads browsers from the internet).
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; \
	fi
	@$(CHROMIUM) --version

lint: install-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	PYTHON="$(CURDIR)/$(PY)" .ci/lint-imports

typecheck: install-test
	$(PY) -m mypy

# pytest exits 5 when it collected no test: that is a failure here, never a silent pass.
# .venv/bin goes first on PATH so anything the tests start by name is this install's.
pytest: install-test
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest -q -p no:cacheprovider; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

bench: install-test
	$(PY) bench/run_all.py

# Mutation testing (docs/testing.md): mutates tools/kernel/paths.py, server/auth_token.py,
# tools/kernel/actor.py and server/mcp/stdio.py IN PLACE, one mutant at a time, restoring each file.
# Slow (hours for all four); MODULES="paths actor" runs a subset.
MODULES ?=
mutation: install-test
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) bench/mutation.py $(MODULES)

# Context-loading evaluation (docs/context-eval.md): clones, worktrees, indexes and aider's own venv
# live in EVAL_CACHE, outside the repository. EVAL_ARGS passes options (e.g. --mirror-root DIR, --tasks 10).
EVAL_CACHE ?= $(HOME)/.cache/factorops-eval
AIDER_VENV ?= $(EVAL_CACHE)/aider-venv
EVAL_ARGS ?=
eval-context: install-test
	@test -x "$(AIDER_VENV)/bin/python" || { "$(PYTHON)" -m venv "$(AIDER_VENV)" && \
	  "$(AIDER_VENV)/bin/python" -m pip install --quiet --disable-pip-version-check aider-chat==0.86.2; }
	$(PY) bench/eval_context/run.py --cache "$(EVAL_CACHE)" --aider-python "$(AIDER_VENV)/bin/python" $(EVAL_ARGS)
