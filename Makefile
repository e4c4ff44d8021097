# The two commands a fresh clone needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Passkeys need a host name (never an IP address) in a secure context: Chromium and Firefox
# treat http://localhost as one, so that is where `make run` serves.
PORTAL_URL ?= http://localhost:$(PORT)

.PHONY: run test lint serve install migrate clean bench

$(BIN)/.installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	touch $@

install: $(BIN)/.installed

.env:
	$(BIN)/python -m portal.envfile

migrate: install .env
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py seed_demo
	@echo "Serving on http://localhost:$(PORT)/"
	PORTAL_URL=$(PORTAL_URL) $(BIN)/python manage.py runserver localhost:$(PORT)

# Tests run with DEBUG=true only so settings load without production secrets; the test
# runner itself turns DEBUG off for every test.
test: install
	DEBUG=true $(BIN)/python -m pytest $(PYTEST_ARGS)

# Style, types and the apps' layers (README, "Architecture").
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(BIN)/mypy portal accounts apikeys audit
	$(BIN)/lint-imports

serve: install
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/gunicorn portal.wsgi:application --bind 127.0.0.1:$(PORT) \
		--workers $${WEB_CONCURRENCY:-4} --log-level warning

# bench/peers.py: the signed API beside Django REST framework + djangorestframework-api-key
# on the local PostgreSQL and Redis. Their packages are locked apart (requirements-bench.lock,
# the test lock plus them), so `make test` never needs them.
$(BIN)/.bench-installed: requirements-bench.lock $(BIN)/.installed
	$(BIN)/pip install --quiet -r requirements-bench.lock
	touch $@

bench: $(BIN)/.bench-installed
	$(BIN)/python bench/peers.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .venv-* staticfiles test-artifacts
