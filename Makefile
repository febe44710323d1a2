# paxlab: the user's front door. Every target installs what it needs on first use.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PAXLAB := $(BIN)/paxlab

TIME_LIMIT ?= 60
NODES ?= 5
CONCURRENCY ?= 10
WORKLOAD ?= kv
BUG ?=
SEED ?=
BACKEND ?= docker
TARGET ?= bundled
PORT ?= 8080
# The target's options, e.g. TARGET=etcd TARGET_OPT=read=serializable (several:
# space-separated KEY=VALUE words).
TARGET_OPT ?=
BUG_ARG := $(if $(BUG),--bug $(BUG),)
SEED_ARG := $(if $(SEED),--seed $(SEED),)
TARGET_OPT_ARG := $(foreach o,$(TARGET_OPT),--target-opt $(o))
# Only the docker backend runs the node image: a simulator, local or ssh run must not build
# it. etcd on the local backend runs the host's etcd binary (Debian's etcd-server).
NODE_DEPS := install $(if $(filter docker,$(BACKEND)),image,) \
             $(if $(filter etcd,$(TARGET)),$(if $(filter local,$(BACKEND)),etcd-deps,),)
RUN_ARGS = --workload $(WORKLOAD) --nodes $(NODES) --concurrency $(CONCURRENCY) \
           --time-limit $(TIME_LIMIT) --backend $(BACKEND) --target $(TARGET) $(BUG_ARG) $(SEED_ARG) \
           $(TARGET_OPT_ARG)

.PHONY: install test test-fast test-docker lint format image cluster-up cluster-down \
        test-partition test-kill test-clock test-pause test-netem test-membership test-all \
        serve bench \
        bench-checker bench-etcd validate clean browser-deps etcd-deps

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py checker/_native.c
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@# compat: a plain path in a .pth file. The default editable install imports a finder
	@# (pathlib, importlib.util) at every start of every Python of this venv: 11 ms of a
	@# 29 ms `paxlab check`. Should setuptools drop the mode, the default install follows.
	$(BIN)/pip install --quiet -e '.[dev,dask]' --config-settings editable_mode=compat \
	    2>/dev/null || $(BIN)/pip install --quiet -e '.[dev,dask]'
	@# Bytecode now, not at each run: where PYTHONDONTWRITEBYTECODE is set, Python never
	@# writes it and compiles every module on each start (20 ms more on each `paxlab check`).
	$(BIN)/python -m compileall -q -j 0 paxos_impl generator targets cluster nemesis \
	    workloads checker controller > /dev/null
	@# The checker's compiled search is optional (setup.py): without a C compiler, say so once.
	@$(BIN)/python -c 'import checker._native' 2>/dev/null || echo "paxlab: checker/_native.c \
	    was not built (no C compiler?): paxlab check runs its pure-Python search, same verdicts, slower"
	touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The whole suite: lint, the fast tier (unit + simulation + local processes, etcd among them),
# then the container tier.
# The fast tier runs in TEST_JOBS worker processes, one test file per worker at a time
# (--dist loadfile: the tests of one file share their fixtures and ports); 1 runs it in one
# process. The container tier stays in one process: its clusters share the Docker engine.
TEST_JOBS ?= 2
FAST_ARGS = -m "not docker and not browser" -q $(if $(filter-out 1,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadfile,)

test: lint etcd-deps
	$(BIN)/python -m pytest $(FAST_ARGS)
	$(MAKE) --no-print-directory test-docker

test-fast: install etcd-deps
	$(BIN)/python -m pytest $(FAST_ARGS)

test-docker: install image browser-deps
	$(BIN)/python -m pytest -m "docker or browser" -q

# etcd for the local backend and the etcd benchmark: Debian's package, installed once.
etcd-deps:
	@if ! command -v etcd >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y etcd-server; \
	fi

# Headless Chromium for the browser tests: Debian's packages (selenium uses /usr/bin/chromedriver).
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium chromium-driver; \
	fi

image: install
	$(PAXLAB) image build

cluster-up: $(NODE_DEPS)
	$(PAXLAB) cluster up --nodes $(NODES) --backend $(BACKEND)

cluster-down: install
	$(PAXLAB) cluster down

test-partition: $(NODE_DEPS)
	$(PAXLAB) test $(RUN_ARGS) --nemesis partition

test-kill: $(NODE_DEPS)
	$(PAXLAB) test $(RUN_ARGS) --nemesis kill

test-clock: $(NODE_DEPS)
	$(PAXLAB) test $(RUN_ARGS) --nemesis clock

test-pause: $(NODE_DEPS)
	$(PAXLAB) test $(RUN_ARGS) --nemesis pause

test-netem: $(NODE_DEPS)
	$(PAXLAB) test $(RUN_ARGS) --nemesis netem

# Nodes join, leave and replace the leader (docker, local and sim can add hosts; ssh not).
test-membership: $(NODE_DEPS)
	$(PAXLAB) test $(RUN_ARGS) --nemesis membership
	$(PAXLAB) test $(RUN_ARGS) --nemesis membership,partition,kill

test-all: $(NODE_DEPS)
	$(PAXLAB) test $(RUN_ARGS) --nemesis partition
	$(PAXLAB) test $(RUN_ARGS) --nemesis kill
	$(PAXLAB) test $(RUN_ARGS) --nemesis pause
	$(PAXLAB) test $(RUN_ARGS) --nemesis clock
	$(PAXLAB) test $(RUN_ARGS) --nemesis partition,kill,pause,clock

serve: install
	$(PAXLAB) serve --port $(PORT)

bench: install
	$(PAXLAB) bench
	$(PAXLAB) bench --checker
	$(PAXLAB) sim --bench

bench-checker: install
	$(PAXLAB) bench --checker

bench-etcd: install etcd-deps
	$(PAXLAB) bench --compare etcd

validate: install $(if $(filter etcd,$(TARGET)),etcd-deps,)
	$(PAXLAB) validate $(if $(filter-out bundled,$(TARGET)),--target $(TARGET),--backend sim)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
