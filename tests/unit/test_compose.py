"""docker-compose.yml and the Dockerfile, checked without Docker.

The Compose file is validated against the Compose Specification's JSON schema (shipped in
tests/fixtures/compose, see SOURCES.md) and for the start order the stack relies on; the
Dockerfile is read statically: pinned bases, locked build-time install, non-root, nothing
fetched when the container runs.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from gateway.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests/fixtures/compose/compose-spec.json").read_text())


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    assert schema_errors(compose()) == []


def test_the_schema_check_catches_a_broken_file() -> None:
    broken = copy.deepcopy(compose())
    broken["services"]["gateway"]["depends_on"]["redis"]["condition"] = "service_ready"
    broken["services"]["redis"]["healthcheck"]["interval"] = ["5s"]
    assert len(schema_errors(broken)) >= 2


def test_services_and_start_order() -> None:
    services = compose()["services"]
    assert {"gateway", "redis", "hapi-a", "hapi-b", "seed"} <= set(services)
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
    gateway = services["gateway"]["depends_on"]
    assert gateway["redis"]["condition"] == "service_healthy"
    assert gateway["seed"]["condition"] == "service_completed_successfully"
    assert set(services["seed"]["depends_on"]) == {"hapi-a", "hapi-b"}
    assert "healthcheck" in services["redis"] and "healthcheck" in services["gateway"]
    assert "/healthz" in " ".join(services["gateway"]["healthcheck"]["test"])
    assert services["seed"]["restart"] == "no"


def test_hapi_containers_are_pinned_and_configured_for_client_ids() -> None:
    services = compose()["services"]
    for name in ("hapi-a", "hapi-b"):
        image = services[name]["image"]
        assert re.fullmatch(r"hapiproject/hapi:v\d+\.\d+\.\d+(-\d+)?", image), image
        env = services[name]["environment"]
        assert env["hapi.fhir.client_id_strategy"] == "ALPHANUMERIC"
        assert env["hapi.fhir.reuse_cached_search_results_millis"] == "0"
        assert env["hapi.fhir.fhir_version"] == "R4"
    host_ports = [p.split(":")[0] for s in services.values() for p in s.get("ports", [])]
    assert len(host_ports) == len(set(host_ports))


def test_seed_service_seeds_each_ehr_with_its_profile() -> None:
    command = " ".join(compose()["services"]["seed"]["command"])
    runs = [shlex.split(part) for part in command.split("&&")]
    targets = {}
    for argv in runs:
        assert argv[:2] == ["frontdesk", "seed"]
        options = dict(zip(argv[2::2], argv[3::2], strict=True))
        targets[options["--profile"]] = options["--base-url"]
        assert float(options["--wait"]) > 0
    assert targets == {"ehr-a": "http://hapi-a:8080/fhir", "ehr-b": "http://hapi-b:8080/fhir"}


def test_gateway_config_mounted_in_compose_loads_and_points_at_the_containers() -> None:
    gateway = compose()["services"]["gateway"]
    mount = next(v for v in gateway["volumes"] if v.endswith(":/etc/frontdesk/config.yaml:ro"))
    config = ROOT / mount.split(":")[0]
    assert gateway["environment"]["FRONTDESK_CONFIG"] == "/etc/frontdesk/config.yaml"
    assert "/etc/frontdesk/config.yaml" in gateway["command"]
    settings = load_settings(config)
    (tenant,) = settings.tenants
    assert {s.id: str(s.base_url) for s in tenant.sources} == {
        "ehr-a": "http://hapi-a:8080/fhir",
        "ehr-b": "http://hapi-b:8080/fhir",
    }
    assert {s.vendor for s in tenant.sources} == {"hapi"}
    assert settings.cache.redis_url == "redis://redis:6379/0"
    assert "redis" in compose()["services"]


# --- Dockerfile -------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, args = line.strip().partition(" ")
            out.append((instruction.upper(), args.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = dockerfile()
    last_from = max(i for i, (ins, _) in enumerate(steps) if ins == "FROM")
    return steps[last_from:]


def test_dockerfile_is_multi_stage_on_pinned_python_311_slim() -> None:
    bases = [
        args.split()[0] for ins, args in dockerfile() if ins == "FROM" and "--from" not in args
    ]
    assert len(bases) >= 2
    for base in bases:
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base), base


def test_dockerfile_installs_from_the_lock_file_at_build_time() -> None:
    steps = dockerfile()
    runs = [args for ins, args in steps if ins == "RUN"]
    assert any("uv sync" in r and "--frozen" in r and "--no-dev" in r for r in runs)
    assert any(ins == "COPY" and "uv.lock" in args for ins, args in steps)
    assert re.search(r"pip install [^&]*uv==\d+\.\d+\.\d+", " ".join(runs))
    assert not [args for ins, args in steps if ins == "ADD" and "://" in args]


def test_dockerfile_runs_as_non_root_and_fetches_nothing_at_runtime() -> None:
    runtime = final_stage()
    users = [args for ins, args in runtime if ins == "USER"]
    assert users and users[-1] not in ("root", "0")
    starts = [args for ins, args in runtime if ins in ("CMD", "ENTRYPOINT", "HEALTHCHECK")]
    assert starts
    for args in starts:
        assert not re.search(r"\b(curl|wget|pip|uv|apt-get|apk)\b", args), args
    cmd = json.loads(next(args for ins, args in runtime if ins == "CMD"))
    assert cmd[:2] == ["frontdesk", "serve"]
    health = next(args for ins, args in runtime if ins == "HEALTHCHECK")
    assert "/healthz" in health
    # The runtime stage copies the built venv; it resolves nothing itself.
    assert not [args for ins, args in runtime if ins == "RUN" and re.search(r"pip|uv ", args)]


@pytest.mark.parametrize("path", [".venv", ".git", "hapi-server", "tests"])
def test_dockerignore_keeps_local_state_out_of_the_build_context(path: str) -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert path in ignored


def test_payer_simulator_serves_the_gateway_config_payers() -> None:
    services = compose()["services"]
    sim = services["payer-sim"]
    assert "simulators.payer:create_payer_app" in sim["command"]
    assert services["gateway"]["depends_on"]["payer-sim"]["condition"] == "service_healthy"
    config = yaml.safe_load((ROOT / "deploy" / "frontdesk.compose.yaml").read_text())
    [payers] = [t["payers"] for t in config["tenants"]]
    assert payers[0]["endpoint"] == "http://payer-sim:8090/x12/270"
    # The simulator really answers for the payer ids the config routes to it.
    from simulators.payer import SIM_PAYER_IDS

    assert set(payers[0]["payer_ids"]) <= set(SIM_PAYER_IDS)


def test_the_worker_runs_batch_verification_as_its_own_service() -> None:
    services = compose()["services"]
    worker, gateway = services["worker"], services["gateway"]
    assert worker["command"][:2] == ["frontdesk", "worker"]
    assert "--config" in worker["command"] and "serve" not in worker["command"]
    # One configuration and the same secrets and Redis as the API, or the worker's answers
    # would be sealed and keyed where the API can't read them.
    assert set(worker["volumes"]) >= {
        v for v in gateway["volumes"] if v.endswith(":/etc/frontdesk/config.yaml:ro")
    }
    for name in ("FRONTDESK_HASH_KEY", "FRONTDESK_CACHE__REDIS_URL"):
        assert worker["environment"][name] == gateway["environment"][name]
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert worker["restart"] == "unless-stopped"
    assert "ports" not in worker  # nothing calls it: it takes work from Redis
    # The API queues; it runs no workers of its own.
    assert gateway["environment"]["FRONTDESK_COVERAGE_BATCH_WORKERS"] == "0"


def test_the_worker_command_is_a_real_cli_command() -> None:
    from typer.testing import CliRunner

    from frontdesk.cli import app

    result = CliRunner().invoke(app, ["worker", "--help"])
    assert result.exit_code == 0
    assert "--config" in result.output
