# The one entry point: `make run`, `make test`, `make bench`. CI calls `make test` only.
SHELL := /bin/bash
PYTHON310 ?= $(shell for c in $$(ls -d $$(pyenv root 2>/dev/null)/versions/3.10*/bin/python 2>/dev/null) python3.10 /usr/bin/python3.10; do $$c -c "import sys; assert sys.version_info[:2] == (3, 10)" 2>/dev/null && { echo $$c; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Local settings live in .env (see .env.example). make does not read it: it would expand
# every $ in it (a password hash has several). The Python entry points read it themselves.
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export RASA_TELEMETRY_ENABLED := false

.PHONY: run migrate test model data lint typecheck validate chat bench nlu-report lock clean

$(STAMP): requirements.lock pyproject.toml
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found (python3.10 or pyenv versions/3.10*)"; exit 1; }
	test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==24.0"
	$(PY) -m pip install --quiet -r requirements.lock
	touch $(STAMP)

## Train the model only when config, domain or training data changed (cached by content hash).
model: $(STAMP)
	$(PY) -m bot.runtime.model

## Regenerate the real-text training data and held-out slice from ../shared/data/real_text (committed).
data: $(STAMP)
	$(PY) -m bench.real_text

## Bring the database (DATABASE_URL, or var/support.db) to the newest schema revision.
migrate: $(STAMP)
	$(PY) -m bot.migrate

## Start the whole stack (upgrading the database first): action server, Rasa server, agent desk.
run: model
	$(PY) -m bot.runtime.stack

## Talk to the running bot from this terminal, through the redacting REST channel.
chat: $(STAMP)
	$(PY) -m connectors.rest.chat

lint: $(STAMP)
	$(VENV)/bin/ruff check bot connectors tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy bot connectors

validate: $(STAMP)
	$(VENV)/bin/rasa data validate --domain bot/domain.yml --data nlu stories --config config.yml --fail-on-warnings

## Validate the help center (helpcenter/): front matter, placeholders, links, language parity, intents.
.PHONY: helpcenter-check
helpcenter-check: $(STAMP)
	$(PY) -m bot.helpcenter.check

## Help-center search on 60 en/ko/zh questions written from the article titles alone (issue 14).
.PHONY: helpcenter-outside
helpcenter-outside: $(STAMP)
	$(PY) -m bench.helpcenter_outside

## pytest-xdist: one worker per core; whole files per worker, longest first (tests/conftest.py).
TEST_WORKERS ?= 2
test: model lint typecheck validate
	bash tests/setup_machine.sh
	$(PY) -m pytest -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

bench: model
	$(PY) -m bench.run_all

## Compare NLU pipelines on the held-out set (slow; kept out of `make test`); options in ARGS="--only ...".
nlu-report: $(STAMP)
	$(PY) -m bench.nlu_report $(ARGS)

lock: $(STAMP)
	$(PY) -m pip freeze --exclude-editable > requirements.lock.new && mv requirements.lock.new requirements.lock

clean:
	rm -rf models var results .pytest_cache .mypy_cache .ruff_cache
