"""mappers is pure: importing it loads no I/O stack and no other project package."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ["httpx", "httpcore", "redis", "connectors", "gateway", "fastapi", "structlog"]

_PROBE = """
import json, sys
import mappers, mappers.model, mappers.bundle, mappers.patient, mappers.slot
import mappers.schedule, mappers.appointment, mappers.coverage, mappers.eligibility
import mappers.pages, mappers.names, mappers.local_ids, mappers.practitioner, mappers.location
import mappers.organization, mappers.practitioner_role, mappers.healthcare_service
import mappers.outbound, mappers.x12
mappers.from_fhir({"resourceType": "Slot", "id": "s", "status": "free",
                   "start": "2025-01-01T09:00:00Z"}, source="ehr-a")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in %r)))
"""


def test_importing_mappers_loads_no_io_or_outer_packages() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE % (FORBIDDEN,)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == []


def test_probe_would_see_a_forbidden_import() -> None:
    # Guards the probe itself: the same check does see a module that was imported.
    probe = _PROBE.replace("import json, sys", "import json, sys, httpx")
    out = subprocess.run(
        [sys.executable, "-c", probe % (FORBIDDEN,)], capture_output=True, text=True, check=True
    )
    assert "httpx" in json.loads(out.stdout)
