# Two commands matter: `make run` and `make test`. Both do all set-up first, and
# set-up is idempotent: a second run with nothing changed costs a few seconds.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export RASA_TELEMETRY_ENABLED := false
export SANIC_HOST := 127.0.0.1
export PYTHONDONTWRITEBYTECODE := 1

UV_VERSION := 0.13.9
UV := .tools/bin/uv
APP_PY := .venv/bin/python
BOT_PY := .venv-bot/bin/python
RASA := .venv-bot/bin/rasa
MODEL := models/claims.tar.gz
BOT_SOURCES := config.yml $(wildcard domain.yml domain/*.yml) $(shell find data bot/dictionary bot/nlu -type f -not -path '*/__pycache__/*' 2>/dev/null)

.PHONY: help setup run run-scaled test lint typecheck test-app test-api-fuzz test-bot test-conversations test-e2e test-scaled validate-bot train lock clean

help:
	@echo "make run    - set up everything, then run app :8000, Rasa :5005, actions :5055"
	@echo "make run-scaled - nginx :8080 before two of every process on PostgreSQL + Redis (docs/deploy.md)"
	@echo "make test   - set up everything, then run every test suite, lint and type checks"
	@echo "make lock   - re-resolve both lock files after editing pyproject.toml / bot/requirements.in"

$(UV):
	@echo "==> bootstrapping uv $(UV_VERSION) into .tools/"
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.installed: requirements/app.lock | $(UV)
	@echo "==> app environment (.venv, Python 3.11+) from requirements/app.lock"
	@test -x $(APP_PY) || $(UV) venv --quiet --python 3.11 .venv
	$(UV) pip sync --quiet --python $(APP_PY) requirements/app.lock
	@touch $@

.venv-bot/.installed: bot/requirements.lock | $(UV)
	@echo "==> bot environment (.venv-bot, Python 3.10) from bot/requirements.lock (first time: ~5 min, 2.5 GB)"
	@py310="$$(scripts/find-python310.sh)" && \
	  { test -x $(BOT_PY) || $(UV) venv --quiet --python "$$py310" .venv-bot; }
	$(UV) pip sync --quiet --python $(BOT_PY) bot/requirements.lock
	@touch $@

setup: .venv/.installed .venv-bot/.installed

$(MODEL): .venv-bot/.installed $(BOT_SOURCES)
	@echo "==> training the Rasa model (offline; about 3 minutes on 2 cores)"
	$(RASA) train --config config.yml --domain domain.yml --data data \
	  --fixed-model-name claims --out models --quiet
	@touch $@

train: $(MODEL)

run: setup $(MODEL)
	@mkdir -p var
	$(APP_PY) -m backend.cli migrate
	$(APP_PY) -m backend.cli demo-data
	@scripts/run-all.sh

# The production-like topology (docs/deploy.md): nginx in front of two app and two Rasa
# replicas, two action servers, two notification workers, PostgreSQL and Redis.
run-scaled: setup $(MODEL)
	@scripts/check-services.sh
	@scripts/ensure-nginx.sh
	@scripts/run-scaled.sh

APP_CODE := backend channels tests bench
lint: .venv/.installed
	$(APP_PY) -m ruff check $(APP_CODE) --exclude tests/bot
	$(APP_PY) -m ruff format --check $(APP_CODE) --exclude tests/bot
	$(APP_PY) -m ruff check --target-version py310 actions tests/bot

typecheck: .venv/.installed
	$(APP_PY) -m mypy

test-app: .venv/.installed
	@scripts/check-services.sh
	@scripts/pytest-strict.sh $(APP_PY) tests --ignore=tests/bot --ignore=tests/e2e --ignore=tests/scaled -p no:cacheprovider

# Schemathesis against the real app on loopback, from its own OpenAPI, as nobody, as the
# bot and as staff: no 5xx, every answer matches its documented schema (55 s budget).
test-api-fuzz: .venv/.installed
	$(APP_PY) -m tests.security.api_fuzz --budget 55

# The whole system as a customer meets it: app, Rasa and action server as real
# processes, driven through WeChat callbacks, the REST channel and a headless browser.
test-e2e: setup $(MODEL)
	@scripts/ensure-chromium.sh
	@scripts/pytest-strict.sh $(APP_PY) tests/e2e -m e2e -p no:cacheprovider

# The scaled topology (scripts/run-scaled.sh) with a WeChat journey through nginx while
# one replica of each process is killed and started again.
test-scaled: setup $(MODEL)
	@scripts/check-services.sh
	@scripts/ensure-nginx.sh
	@scripts/pytest-strict.sh $(APP_PY) tests/scaled -m e2e -p no:cacheprovider

# tests/bot/test_endpoints_scaled.py asks the app's CLI for Rasa's Redis settings.
test-bot: .venv-bot/.installed .venv/.installed $(MODEL)
	@scripts/pytest-strict.sh $(BOT_PY) -c tests/bot/pytest.ini tests/bot -p no:cacheprovider

validate-bot: .venv-bot/.installed
	$(RASA) data validate --config config.yml --domain domain.yml --data data --fail-on-warnings

test-conversations: $(MODEL)
	$(RASA) test core --model $(MODEL) --stories tests/conversations \
	  --fail-on-prediction-errors --out var/rasa-test-results

test: setup lint typecheck test-app test-api-fuzz test-bot validate-bot test-conversations test-e2e test-scaled
	@echo "==> all test suites passed"

lock: | $(UV)
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --generate-hashes -o requirements/app.lock
	$(UV) pip compile bot/requirements.in --python-version 3.10 \
	  --python-platform x86_64-manylinux_2_28 --generate-hashes -o bot/requirements.lock

clean:
	rm -rf .venv .venv-bot .tools models var/rasa-test-results
