# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app referrals
RUN_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b fonts-dejavu-core
SYSTEM_PACKAGES := $(RUN_PACKAGES) chromium redis-server age poppler-utils openssh-client haproxy

.PHONY: run test bench install install-test lock system-deps run-deps migrate seed clean

# The venv installs the exact versions in the lock files (what CI tested), then the project
# itself without resolving anything; `pip check` stops here if pyproject.toml names a package
# the lock lacks (run `make lock`).
$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.lock
	$(PY) -m pip install --quiet -r requirements-test.lock
	$(PY) -m pip check
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# requirements.lock: what `pip install .` resolves to in a fresh venv today;
# requirements-test.lock: the same with the test extras. Run after changing the
# dependencies in pyproject.toml, and commit both files.
LOCK_HEADER = \# Made by make lock from pyproject.toml with $(shell $(PYTHON) -V 2>&1); do not edit.
lock:
	@set -e; work=$$(mktemp -d); trap 'rm -rf "$$work"' EXIT; \
	$(PYTHON) -m venv "$$work/venv"; \
	"$$work/venv/bin/python" -m pip install --quiet --upgrade pip; \
	"$$work/venv/bin/python" -m pip install --quiet .; \
	{ echo "$(LOCK_HEADER)"; "$$work/venv/bin/python" -m pip freeze --exclude referrals; } > "$$work/main"; \
	"$$work/venv/bin/python" -m pip install --quiet '.[test]'; \
	{ echo "$(LOCK_HEADER)"; "$$work/venv/bin/python" -m pip freeze --exclude referrals; } > "$$work/test"; \
	"$$work/venv/bin/python" -m pip check; \
	mv "$$work/main" requirements.lock; mv "$$work/test" requirements-test.lock; \
	echo "requirements.lock: $$(grep -vc '^#' requirements.lock) packages; requirements-test.lock: $$(grep -vc '^#' requirements-test.lock)"

# Debian packages the tests drive (Chromium, Redis, age, poppler, WeasyPrint's Pango). Installed with
# apt-get when missing; needs root or sudo.
system-deps run-deps: PACKAGES = $(if $(filter run-deps,$@),$(RUN_PACKAGES),$(SYSTEM_PACKAGES))
system-deps run-deps:
	@missing=""; for pkg in $(PACKAGES); do \
	  dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

migrate: $(VENV)/.installed
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) demo seed

run: seed run-deps
	@bin/run-dev

# Both cores (pytest-xdist; the browser tests stay together on one worker). PYTEST_WORKERS=0
# runs everything in one process.
PYTEST_WORKERS ?= auto
test: $(VENV)/.installed-test system-deps
	$(PY) -m pytest $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadgroup) $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance/*.db instance/*.db-* instance/audit-checkpoints .pytest_cache
