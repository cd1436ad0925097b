#!/usr/bin/env bash
# Prepare an Airflow metadata database for newsflow: migrations, then the `duckdb` pool (one slot,
# the single DuckDB writer), then strong signing keys. Idempotent. Used by `make run`, `make airflow`,
# the tests and docker-compose's airflow-init.
set -euo pipefail
airflow db migrate >/dev/null
airflow pools set duckdb 1 "newsflow: the single DuckDB writer" >/dev/null

# A new airflow.cfg gets 16-byte keys for the HS512 JWTs Airflow signs (API tokens, task identities, log
# fetches), and PyJWT warns on every token that HS512 wants 64 bytes: give this install its own 64-byte keys,
# once, in its airflow.cfg (mode 600, outside git). A key set in the environment (docker-compose) wins anyway
# and is left alone.
python - "${AIRFLOW_CONFIG:-${AIRFLOW_HOME:-$HOME/airflow}/airflow.cfg}" <<'PY'
import os
import secrets
import sys
from pathlib import Path

KEYS = {"api": "secret_key", "api_auth": "jwt_secret"}  # section -> option
MIN_BYTES = 64

config = Path(sys.argv[1])
lines = config.read_text().splitlines(keepends=True) if config.is_file() else []
section, changed = "", False
for number, line in enumerate(lines):
    if line.startswith("["):
        section = line.strip().strip("[]")
    option, equals, value = line.partition(" = ")
    env = f"AIRFLOW__{section}__{option}".upper()
    if equals and KEYS.get(section) == option and len(value.strip()) < MIN_BYTES and env not in os.environ:
        lines[number], changed = f"{option} = {secrets.token_urlsafe(MIN_BYTES)}\n", True
if changed:
    config.write_text("".join(lines))
PY
