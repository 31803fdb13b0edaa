# The two commands a new machine needs: `make run` and `make test`. Both set everything up.
SHELL := /bin/bash
VENV_PY := .venv/bin/python

.PHONY: run run-cluster test test-fast setup env up down train shell lint clean

run: setup ## Start PostgreSQL, Redis, the action server and Rasa in demo mode; Ctrl-C stops them
	$(VENV_PY) -m stack run --demo --api

run-cluster: setup ## Like run, with CLUSTER_SERVERS (2) Rasa/action server pairs behind HAProxy
	@scripts/ensure_haproxy.sh
	$(VENV_PY) -m stack run --demo --api --cluster

test: setup ## Lint, validate data, train if needed, run pytest and rasa test
	scripts/test.sh

test-fast: setup ## The fast tier: tests that need no database or server (well under a minute)
	.venv/bin/python -m pytest -m fast -q

setup:
	@scripts/bootstrap.sh

env: setup ## Print export lines for the stack (starts embedded servers if needed)
	@$(VENV_PY) -m stack env

up: setup ## Start the embedded servers, migrate and load demo customers, then return
	$(VENV_PY) -m stack up

down: setup ## Stop the embedded servers
	$(VENV_PY) -m stack down

train: setup ## Train the Rasa model if domain, config or data changed
	$(VENV_PY) -m stack train

shell: setup ## Chat in the terminal as demo CUSTOMER (default cust-0001; CUSTOMER= for a visitor); needs `make run`
	$(VENV_PY) -m stack shell --customer "$${CUSTOMER-cust-0001}" --sender "$${SENDER:-shell}"

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

clean: down
	find models -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	rm -rf results .data .rasa
