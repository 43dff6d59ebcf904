# onetrip: `make up` runs everything on 127.0.0.1:8000, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Integration tests mostly wait on service processes: three at a time fit two cores.
PYTEST_ARGS ?= -n 3
INSTALLED := $(VENV)/.installed

.PHONY: up test test-cluster down bench install servers lint compose-check deploy-check clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(INSTALLED)
	@scripts/ensure-system-packages

servers:
	@scripts/ensure-servers

# `make up` is a development run: the development keys and bus passwords are accepted.
up: export ONETRIP_ENV ?= development
up: install servers
	$(PY) -m shared.bootstrap
	ONETRIP_HTTP_PORT=$${PORT:-8000} PATH="$(CURDIR)/$(VENV)/bin:$$PATH" exec $(VENV)/bin/honcho start

# The Node.js example consumer the tests run (examples/node-consumer), from the npm registry.
NODE_EXAMPLE := examples/node-consumer/node_modules/.package-lock.json
$(NODE_EXAMPLE): examples/node-consumer/package-lock.json
	cd examples/node-consumer && npm ci --no-audit --no-fund --loglevel=error

# The AsyncAPI project's parser the tests judge the event contract with (tests/asyncapi).
ASYNCAPI_PARSER := tests/asyncapi/node_modules/.package-lock.json
$(ASYNCAPI_PARSER): tests/asyncapi/package-lock.json
	cd tests/asyncapi && npm ci --no-audit --no-fund --loglevel=error

# The OpenID provider the single sign-on tests log in at (tests/oidc), from the npm registry.
OIDC_PROVIDER := tests/oidc/node_modules/.package-lock.json
$(OIDC_PROVIDER): tests/oidc/package-lock.json
	cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error

test: install servers $(NODE_EXAMPLE) $(ASYNCAPI_PARSER) $(OIDC_PROVIDER)
	@scripts/ensure-system-packages test
	$(VENV)/bin/ruff check services shared tests bench deploy scripts
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The hall on a three-node RabbitMQ cluster of its own (ports 5701-5703), two nodes stopped in
# turn under load (tests/cluster/cluster_check.py, ~3 minutes; not part of `make test`).
test-cluster: install servers
	$(VENV)/bin/pytest -p no:xdist -q tests/cluster/cluster_check.py

down:
	-pkill -TERM -f 'onetrip-service' || true

bench: install servers
	for b in bench/backbone.py bench/catalogue.py bench/approval.py bench/notify.py bench/audit.py bench/pages.py; do \
	  if [ -f $$b ]; then $(PY) $$b || exit 1; fi; done

compose-check: install
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

# The Kubernetes manifests against the API's and the operators' schemas (offline, deploy/README.md).
deploy-check: install
	$(PY) deploy/validate.py deploy/base

lint: install
	$(VENV)/bin/ruff check services shared tests bench deploy scripts

clean:
	rm -rf $(VENV) var
