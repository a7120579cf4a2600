# OpenKWh: every target installs what it needs first (a virtualenv in .venv
# from pyproject.toml + constraints.txt, node_modules from package-lock.json)
# and reinstalls nothing when nothing changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
NETWORK ?= anvil
# `make chain` listens on CHAIN_PORT; `make deploy RPC_URL=…` deploys to another
# node than the network's URL in moccasin.toml (e.g. a chain on another port).
CHAIN_PORT ?= 8545
RPC_URL ?=
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-k wallet"`.
PYTEST_ARGS ?=
# pytest-xdist workers, one per core of the 2-core machines; 0 runs in-process
# (for --pdb). A file's tests stay on one worker, as collected: the slow files
# first (tests/conftest.py), each dApp module on its own anvil node once.
PYTEST_WORKERS ?= 2
# The long campaign of `make fuzz`: minutes per state machine, machines at a time.
OPENKWH_FUZZ_MINUTES ?= 60
FUZZ_WORKERS ?= 4
XDIST := -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

.DEFAULT_GOAL := help
.PHONY: help setup demo test fuzz chain deploy bench bench-scale lint clean postgresql

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'
	@echo '  PYTEST_ARGS passes arguments to pytest in test and fuzz, e.g. make test PYTEST_ARGS="-k wallet"'

# The hub's Sign-In with Ethereum, without its dependencies: siwe pins web3<8 in
# its metadata only (pyproject.toml, the hub extra, says why).
NO_DEPS := siwe==4.4.0 abnf==2.2.0

$(VENV)/.installed: pyproject.toml meter_bridge/requirements.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps $(NO_DEPS)
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error --ignore-scripts
	@touch $@

# The dApp's script: its modules (wallet, transactions, api, format, one per page), with
# ethers.js and Chart.js from node_modules, bundled from the entry app.js (no CDN).
# Split: Chart.js (charting.js) and ethers' wallet classes (walletkit.js) are chunks of
# their own that a page imports only when it draws a chart or uses the wallet.
DAPP_JS := openkwh/dapp/static/build/app.js
DAPP_SRC := $(wildcard openkwh/dapp/static/src/*.js openkwh/dapp/static/src/pages/*.js)
$(DAPP_JS): $(DAPP_SRC) node_modules/.installed
	rm -rf openkwh/dapp/static/build
	node_modules/.bin/esbuild openkwh/dapp/static/src/app.js --bundle --splitting --format=esm --minify --target=es2020 --log-level=warning --outdir=openkwh/dapp/static/build --chunk-names=chunks/[name]-[hash]

setup: $(VENV)/.installed node_modules/.installed $(DAPP_JS) postgresql  ## install the Python and node dependencies, build the dApp's script

demo: setup  ## the main job: a local chain, the contracts, a token sale (HUB=1: one household through the data hub)
	$(PY) -m openkwh.demo $(if $(filter 1,$(HUB)),--hub)

# The dApp's browser tests and bench drive the system's Chromium (Debian's package).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq && apt-get install -y -qq chromium > /dev/null

# The hub's tests start a PostgreSQL server of their own from Debian's package
# (initdb refuses root: run as root, they hand it to a dedicated system user).
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq postgresql > /dev/null)

test: setup $(CHROMIUM)  ## every test: contracts in-process, then against a real anvil, the dApp in Chromium
	OPENKWH_REQUIRE_POSTGRES=1 $(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

fuzz: setup  ## the contracts' state machines, long: each for OPENKWH_FUZZ_MINUTES of wall-clock time (default 60), FUZZ_WORKERS machines at a time (default 4)
	rm -rf out/fuzz
	OPENKWH_FUZZ_MINUTES=$(OPENKWH_FUZZ_MINUTES) $(PY) -m pytest -n $(FUZZ_WORKERS) --dist loadfile tests/hypothesis -k long_campaign $(PYTEST_ARGS)
	@cat out/fuzz/*.txt

chain: setup  ## anvil on 127.0.0.1:CHAIN_PORT (default 8545) in the foreground (its dev accounts are printed)
	node_modules/.bin/anvil --host 127.0.0.1 --port $(CHAIN_PORT)

deploy: setup  ## deploy to NETWORK (default: anvil, the chain of `make chain`), at RPC_URL if given
	$(PY) -m openkwh.commands.deploy --network $(NETWORK) $(if $(RPC_URL),--rpc-url $(RPC_URL))

bench: setup $(CHROMIUM)  ## gas per operation (bench/gas.json), the bridge's and the dApp's timings, the national replay (bench/scale.json)
	$(PY) -m openkwh.bench

bench-scale: setup  ## the national replay alone: 3.3 M metering points through the data hub (bench/scale.json, a few minutes)
	$(PY) -m openkwh.bench.scale

lint: setup  ## ruff, and every contract compiled
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/vyper contracts/*.vy tests/contracts/*.vy bench/contracts/*.vy > /dev/null

clean:  ## remove the installed dependencies and build output
	rm -rf $(VENV) node_modules out .pytest_cache .hypothesis
