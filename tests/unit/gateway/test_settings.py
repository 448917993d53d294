from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import ConfigError, load_settings

YAML = """
tenants:
  - id: general
    name: General Hospital
    time_zone: America/New_York
    provider_npi: "1234567893"
    sources:
      - id: ehr-a
        base_url: http://127.0.0.1:8081/fhir
        vendor: hapi
        time_zone: America/New_York
api_clients:
  - id: desk
    tenant: general
    scopes: [patients:read, slots:read]
    key_sha256: "%s"
""" % ("a" * 64)


def test_yaml_loads_and_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "frontdesk.yaml"
    path.write_text(YAML)
    monkeypatch.setenv("FRONTDESK_MAX_DATE_RANGE_DAYS", "14")
    settings = load_settings(path)
    assert settings.tenants[0].sources[0].vendor == "hapi"
    assert settings.max_date_range_days == 14
    assert settings.api_clients[0].scopes == ["patients:read", "slots:read"]


def test_invalid_config_names_the_field(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text(YAML.replace("America/New_York\n    provider", "Mars/Olympus\n    provider"))
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "tenants.0.time_zone" in str(info.value)


def test_unknown_tenant_of_a_client_is_refused(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text(YAML.replace("tenant: general", "tenant: elsewhere"))
    with pytest.raises(ConfigError, match="api_clients"):
        load_settings(path)


def test_missing_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml")


def test_secret_comes_from_environment_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    path = tmp_path / "f.yaml"
    path.write_text(YAML)
    settings = load_settings(path)
    monkeypatch.delenv("FRONTDESK_HASH_KEY", raising=False)
    with pytest.raises(ConfigError, match="FRONTDESK_HASH_KEY"):
        settings.cache.hash_key.read()
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "s3cret")
    assert settings.cache.hash_key.read() == "s3cret"
