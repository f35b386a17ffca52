"""Production settings: refuse to start half-configured, pass `check --deploy`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "p7Qv!x2Lr9#kT4wZ8mN1sB6yH3jF0dC5gA_eU-iO+VqWlXzRtYu",
    "ALLOWED_HOSTS": "hub.example.com",
    "PUBLIC_BASE_URL": "https://hub.example.com",
}


def manage(*args: str, env: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "INTEGRATIONS_"))}
    base.pop("SECRET_KEY", None)
    base.pop("FIELD_ENCRYPTION_KEYS", None)
    full_env = {**base, "HUB_VAR_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def production_env():
    return {**PRODUCTION_ENV, "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode()}


def test_check_deploy_is_clean_with_production_settings(production_env, tmp_path):
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env=production_env, tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without(missing, production_env, tmp_path):
    env = {k: v for k, v in production_env.items() if k != missing}
    result = manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr
    assert "DJANGO_ENV=production refuses to start" in result.stderr or missing == "ALLOWED_HOSTS"


def test_production_refuses_the_sandbox(production_env, tmp_path):
    result = manage(
        "check", env={**production_env, "INTEGRATIONS_SANDBOX": "true"}, tmp_path=tmp_path
    )
    assert result.returncode != 0
    assert "INTEGRATIONS_SANDBOX=true is refused" in result.stderr


def test_development_generates_and_keeps_its_secrets(tmp_path):
    first = manage("check", env={}, tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "generated SECRET_KEY and FIELD_ENCRYPTION_KEYS" in first.stderr
    secrets_file = tmp_path / "dev-secrets.json"
    content = secrets_file.read_text()
    assert oct(secrets_file.stat().st_mode)[-3:] == "600"

    second = manage("check", env={}, tmp_path=tmp_path)
    assert "generated" not in second.stderr
    assert secrets_file.read_text() == content
