# newsflow: `make run` sets everything up and ingests the seeds; `make test` runs the whole suite.
# Needs only Python 3.11+, pip and make: uv is installed into .tools/ when it is not on PATH.

SHELL := /bin/bash
PYTHON ?= python3
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin

# Embedded defaults: an Airflow home inside the project with SQLite metadata, a DuckDB file in data/.
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER ?= $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER ?= $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES ?= False
# The embedded Airflow (`make airflow`) serves this machine only, so its simple login is not taken for a
# production shape; tasks reach the execution API on the same port, and wait for it as long as its first,
# cold request takes while they share the CPUs (5 s, then retries and warnings).
# Sized to this machine, not to Airflow's defaults: one task per CPU (PARALLELISM is also the number of
# LocalExecutor worker processes; Airflow's 32 meant 32 forked workers), one API server worker (one user),
# one DAG parsing process (two small DAG files; a second one would only compete with the tasks for the CPUs).
# Override any: `make airflow AIRFLOW__API__PORT=8081 AIRFLOW__CORE__PARALLELISM=4`.
export AIRFLOW__API__HOST ?= 127.0.0.1
export AIRFLOW__API__PORT ?= 8080
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL ?= http://127.0.0.1:$(AIRFLOW__API__PORT)/execution/
export AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT ?= 30
export AIRFLOW__CORE__PARALLELISM ?= $(shell getconf _NPROCESSORS_ONLN 2>/dev/null || echo 4)
export AIRFLOW__API__WORKERS ?= 1
export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES ?= 1
export NEWSFLOW_DB ?= $(CURDIR)/data/news.duckdb
export NEWSFLOW_SEEDS_DIR ?= $(CURDIR)/seeds
export NEWSFLOW_STAGING_DIR ?= $(CURDIR)/data/staging
export NEWSFLOW_FEEDS ?= $(CURDIR)/feeds.yaml
# The PATH you gave make, before the environment goes first on it: `newsflow stats` prints commands for that.
USER_PATH := $(PATH)
export PATH := $(BIN):$(PATH)

.PHONY: help setup run test test-fast lint quote-model airflow-init airflow bench bench-fleet bench-publish bench-pathological bench-stream clean

help:
	@echo "make run    - install, initialize Airflow, run the news_ingest DAG over seeds/, print a summary"
	@echo "make test   - install the dev environment and run the test suite"
	@echo "make test-fast - the tests not marked slow (no Airflow, no services, no browser, no big corpora)"
	@echo "make lint   - ruff (format and lint) and mypy over the whole tree"
	@echo "make quote-model - rebuild the committed quote model from PolNeAR's train split (../shared)"
	@echo "make airflow - start Airflow (standalone: UI on http://localhost:8080) with the project's DAGs"
	@echo "make bench  - newsflow ingest on distinct real pages against the floor (extraction + one spaCy parse)"
	@echo "make bench-fleet - 1,000 feeds on 1,000 loopback hosts through newsflow ingest and the embedded Airflow"
	@echo "make bench-publish - what a publish costs at 10k, 100k and 1M articles (1M: about 25 GB of disk, 15 min)"
	@echo "make bench-pathological - long texts (up to the 10 MiB cap) and pathological files through newsflow ingest"
	@echo "make bench-stream - seconds from a feed item's poll to its row in the published file, per task (make airflow)"
	@echo "make clean  - remove the environment, the Airflow home and data/"

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet uv

# Bytecode is compiled once here: where PYTHONDONTWRITEBYTECODE is set, every process would otherwise
# recompile the libraries it imports (Great Expectations' import alone: 12 CPU-seconds instead of 6).
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode
	@touch $@

setup: $(VENV)/.synced

airflow-init: setup
	@mkdir -p "$(AIRFLOW_HOME)"
	@bash scripts/airflow-init.sh

run: airflow-init
	@echo "Running the news_ingest DAG over $(NEWSFLOW_SEEDS_DIR) (log: $(AIRFLOW_HOME)/last_run.log) ..."
	@airflow dags test news_ingest > "$(AIRFLOW_HOME)/last_run.log" 2>&1 \
		|| { tail -n 40 "$(AIRFLOW_HOME)/last_run.log"; echo "news_ingest failed; full log: $(AIRFLOW_HOME)/last_run.log"; exit 1; }
	@PATH='$(USER_PATH)' $(BIN)/newsflow stats

# The UI, scheduler and the feed_ingest schedule on this machine; the admin password is printed at start
# and kept in $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated.
# On Ctrl-C `airflow standalone` stops each component with one SIGTERM; the terminal's own SIGINT reaching
# them too often deadlocks one in its signal handler. So Airflow runs in a process group of its own (set -m)
# and Ctrl-C reaches only standalone, once; a second Ctrl-C kills whatever is left of the group.
airflow: airflow-init
	@set -m; airflow standalone & pid=$$!; set +m; \
	trap 'trap "kill -KILL -- -$$pid" INT TERM; kill -INT $$pid' INT TERM; \
	wait $$pid; status=$$?; while kill -0 $$pid 2>/dev/null; do wait $$pid; status=$$?; done; exit $$status

test: setup
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

# The checks that keep the tree as it is: formatted, linted and typed (settings in pyproject.toml).
LINTED := pipelines tests dags plugins bench
lint: setup
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/mypy

# The quote model (pipelines/nlp/quotes/quote_model.json) is committed: this rebuilds it from PolNeAR's train
# split (never dev: dev checks it). Deterministic: the same split writes the same file.
POLNEAR_TRAIN ?= $(CURDIR)/../shared/corpora/polnear-train
quote-model: setup
	$(BIN)/newsflow train quotes --polnear "$(POLNEAR_TRAIN)"

bench: setup
	$(BIN)/python bench/bench_pipeline.py

bench-fleet: setup
	$(BIN)/python bench/bench_fleet.py

bench-publish: setup
	$(BIN)/python bench/bench_publish.py

bench-pathological: setup
	$(BIN)/python bench/bench_pathological.py

bench-stream: setup
	$(BIN)/python bench/bench_stream.py

clean:
	rm -rf $(VENV) $(CURDIR)/.tools "$(AIRFLOW_HOME)" $(CURDIR)/data
