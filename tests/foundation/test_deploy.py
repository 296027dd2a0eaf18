"""What production starts from: the compose file, the Dockerfile, gunicorn's config, the
container healthcheck and the static files gunicorn serves."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from compose_spec import PyCompose
from django.core.management import call_command
from django.core.management.base import CommandError

from ordersync.tasks import heartbeat
from tests.support import ROOT
from tests.support.processes import child_env, run_python


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_is_valid_compose():
    # YAML merge keys are resolved first, as docker compose does
    PyCompose.from_json(json.dumps(_compose())).validate()


def test_compose_runs_the_stack_with_healthchecks_and_an_optional_sandbox():
    services = _compose()["services"]
    assert set(services) >= {"postgres", "redis", "migrate", "web", "worker", "sandbox"}
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on unknown service {needed}"
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name
    assert "ports" not in services["worker"], "workers scale: they must not bind a host port"
    assert services["sandbox"]["profiles"] == ["sandbox"]
    assert "qcluster" in services["worker"]["command"]


def test_compose_and_image_run_with_debug_off_by_default():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ENV (.*\\\n)*\s*DEBUG=False\b", dockerfile, re.MULTILINE), "image default"
    services = _compose()["services"]
    for name in ("migrate", "web", "worker", "tmc", "sandbox"):
        # compose interpolates ${DEBUG:-False}: False unless .env or the shell says otherwise
        assert services[name]["environment"]["DEBUG"] == "${DEBUG:-False}", name
        assert services[name]["env_file"] == [{"path": ".env", "required": True}], name


def test_image_copies_every_package_of_the_project():
    """A package left out of the image is an app the container cannot import at start."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    (include,) = re.findall(r"^include = \[(.*)\]$", pyproject, re.MULTILINE)
    packages = {name.strip(' "*') for name in include.split(",")}
    copied = set(re.findall(r"^COPY (\w+) \1$", (ROOT / "Dockerfile").read_text(), re.MULTILINE))
    assert packages == {"ordersync", "shops", "trades", "tools"}
    assert packages <= copied


def _dockerfile_run(word: str) -> str:
    """The shell command of the Dockerfile's RUN instruction that mentions ``word``."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    runs = [line.removeprefix("RUN ") for line in text.splitlines() if line.startswith("RUN ")]
    (command,) = [run for run in runs if word in run]
    return command


def test_image_build_collects_static_files_without_a_database_or_a_key(tmp_path):
    """The build's collectstatic, run as written: no embedded server, no key file in the image."""
    data_dir = tmp_path / "ordersync"
    build_only = _dockerfile_run("collectstatic").split(" && chown")[0]
    env = child_env(
        # what the image's ENV sets; `python` is this environment's interpreter
        DEBUG="False",
        ORDERSYNC_DATA_DIR=str(data_dir),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    for name in ("DATABASE_URL", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS"):
        env.pop(name, None)
    result = subprocess.run(
        ["sh", "-c", build_only], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert (data_dir / "static" / "admin" / "css" / "base.css").exists()
    assert not (data_dir / "postgres").exists(), "the build started the embedded PostgreSQL"
    assert not (data_dir / "field-encryption.key").exists(), "the build wrote a key"


def test_dockerfile_copies_what_exists():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, re.MULTILINE):
        for path in source.split():
            assert (ROOT / path).exists(), f"Dockerfile copies missing {path}"


def test_gunicorn_config_is_accepted():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--check-config",
            "-c",
            "ordersync/gunicorn.conf.py",
            "ordersync.wsgi",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def _gunicorn(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = child_env(**{"GUNICORN_BIND": "127.0.0.1:0", "WEB_CONCURRENCY": "1", **env_overrides})
    return run_python(["-m", "gunicorn", "-c", "ordersync/gunicorn.conf.py", "ordersync.wsgi"], env)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"GUNICORN_THREADS": "many"}, "GUNICORN_THREADS='many' is not valid"),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY=0 must be a positive whole number"),
        ({"GUNICORN_TIMEOUT": "0"}, "GUNICORN_TIMEOUT=0 must be a positive whole number"),
        # read by the Django settings in the worker: the master stops, it does not respawn
        ({"DEBUG": "perhaps"}, "DEBUG='perhaps' is not a boolean"),
    ],
)
def test_gunicorn_stops_with_one_clear_message(overrides, message):
    result = _gunicorn(overrides)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "configuration error" in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("ordersync: configuration error: ")
    assert message in errors[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.django_db
def test_healthcheck_command_fails_without_a_cluster_heartbeat(capsys):
    with pytest.raises(CommandError, match="unhealthy"):
        call_command("healthcheck")
    assert "no cluster heartbeat" in capsys.readouterr().out

    heartbeat()
    call_command("healthcheck")
    out = capsys.readouterr().out
    assert re.search(r"^cluster +ok", out, re.MULTILINE), out


def test_admin_static_files_are_served(client):
    response = client.get("/static/admin/css/base.css")
    assert response.status_code == 200
