# The two commands: `make run` starts the hub, `make test` runs every check.
# Both create .venv and install what they need on first use (and again when
# pyproject.toml changes), so they work on a bare machine with Python 3.11.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_EMAIL ?= admin@demo.example
DEMO_PASSWORD ?= demo-hub-password
PYTEST_ARGS ?=

.PHONY: run test install lint format migrate worker web bench clean messages

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Translations: the .po files are the source. The compiled .mo files are committed
# too, so a machine without GNU gettext still runs in Portuguese; where msgfmt is
# installed (CI installs it) they are compiled again whenever a .po is newer.
PO_FILES := $(wildcard locale/*/LC_MESSAGES/django.po)
MO_FILES := $(PO_FILES:.po=.mo)

%.mo: %.po $(STAMP)
	@if command -v msgfmt >/dev/null; then \
		$(PY) manage.py compilemessages --ignore=.venv --ignore=var; \
	else \
		echo "msgfmt not found (apt-get install gettext): using the committed $@"; touch $@; \
	fi

# Refresh the catalogs from the code after adding strings, then translate the new msgids.
messages: $(STAMP)
	$(PY) manage.py makemessages -l pt_BR --ignore=.venv --ignore=var --ignore=bench --ignore=tests --ignore='*/tests/*'
	$(PY) manage.py compilemessages --ignore=.venv --ignore=var

install: $(STAMP) $(MO_FILES)

migrate: $(STAMP) $(MO_FILES)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable

# Web server and a qcluster together; Ctrl-C stops both.
run: migrate
	@$(PY) manage.py create_tenant demo --name "Demo Store" \
		--admin-email "$(DEMO_EMAIL)" --password "$(DEMO_PASSWORD)" --superuser
	@$(PY) manage.py import_catalog apps/catalog/fixtures/demo_catalog.csv --tenant demo
	@echo ""
	@echo "  Integrations hub: http://$(HOST):$(PORT)/integrations/"
	@echo "  Log in as $(DEMO_EMAIL) / $(DEMO_PASSWORD) (also staff: http://$(HOST):$(PORT)/admin/)"
	@echo ""
	@$(PY) manage.py qcluster & QPID=$$!; \
	trap 'kill $$QPID 2>/dev/null; wait $$QPID 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

web: migrate
	$(PY) manage.py runserver $(HOST):$(PORT)

worker: migrate
	$(PY) manage.py qcluster

test: $(STAMP) $(MO_FILES)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
