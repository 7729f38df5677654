# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app referrals
RUN_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b fonts-dejavu-core
SYSTEM_PACKAGES := $(RUN_PACKAGES) chromium redis-server age poppler-utils

.PHONY: run test bench install install-test system-deps run-deps migrate seed clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

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

test: $(VENV)/.installed-test system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance/*.db instance/*.db-* instance/audit-checkpoints .pytest_cache
