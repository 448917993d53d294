"""A FHIR server with Argonaut Scheduling operations, for the kit's `operations` checks.

Wraps another transport (the in-memory sandbox) and adds what HAPI lacks:
- GET metadata: Appointment declares `find`, `hold` and `book`;
- POST Appointment/$find (`start`, `end`): a searchset of *proposed* Appointments, one per
  free Slot starting in the window, id `proposal-<slot id>`;
- POST Appointment/$hold (`appt-id` or `appt-resource`): a pending Appointment is stored;
- POST Appointment/$book (the same, plus `patient-id`): a booked Appointment is stored and
  its Slot marked busy, so `$find` stops offering it;
everything else goes to the wrapped server. Each `SchedulingDefect` breaks one of these.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import httpx

__all__ = ["SchedulingDefect", "SchedulingDouble"]

FHIR_JSON = "application/fhir+json"
ARGONAUT = "http://fhir.org/guides/argonaut-scheduling/OperationDefinition/appointment-"


class SchedulingDefect(StrEnum):
    FIND_OUTSIDE_WINDOW = "find-outside-window"  # also offers a time after the window
    HOLD_NOT_PENDING = "hold-not-pending"  # the "held" appointment stays proposed
    BOOK_LEAVES_TIME_FREE = "book-leaves-time-free"  # $find offers a booked time again


class SchedulingDouble(httpx.AsyncBaseTransport):
    def __init__(
        self, inner: httpx.AsyncBaseTransport, base_url: str, defect: SchedulingDefect | None = None
    ) -> None:
        self.inner = inner
        self.base_url = base_url.rstrip("/")
        self.defect = defect
        self.fhir = httpx.AsyncClient(
            transport=inner, base_url=self.base_url, headers={"Accept": FHIR_JSON}
        )

    async def aclose(self) -> None:
        await self.fhir.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path.endswith("/metadata"):
            return await self._metadata()
        if request.method == "POST" and "/Appointment/$" in path:
            params = _params(json.loads(await request.aread()))
            operation = path.rsplit("$", 1)[1]
            if operation == "find":
                return await self._find(params)
            if operation in ("hold", "book"):
                return await self._take(operation, params)
        return await self.inner.handle_async_request(request)

    async def _metadata(self) -> httpx.Response:
        statement = (await self.fhir.get("/metadata")).json()
        for rest in statement.get("rest") or ():
            for res in rest.get("resource") or ():
                if res.get("type") == "Appointment":
                    res["operation"] = [
                        {"name": op, "definition": f"{ARGONAUT}{op}"}
                        for op in ("find", "hold", "book")
                    ]
        return _fhir(200, statement)

    async def _find(self, params: dict[str, Any]) -> httpx.Response:
        if "start" not in params or "end" not in params:
            return _outcome(400, "required", "start and end are required")
        query: list[tuple[str, str | int | float | bool | None]] = [
            ("status", "free"),
            ("start", f"ge{params['start']}"),
            ("start", f"lt{params['end']}"),
            ("_count", "200"),
        ]
        if self.defect is SchedulingDefect.FIND_OUTSIDE_WINDOW:
            query = [("status", "free"), ("start", f"ge{params['start']}"), ("_count", "200")]
        slots = (await self.fhir.get("/Slot", params=query)).json().get("entry") or []
        proposals = [await self._proposal(e["resource"]) for e in slots]
        if self.defect is SchedulingDefect.FIND_OUTSIDE_WINDOW and proposals:
            late = dict(proposals[0], id="proposal-late")
            late["start"] = late["end"] = "2099-12-31T23:00:00Z"
            proposals.append(late)
        entries = [{"resource": p, "search": {"mode": "match"}} for p in proposals]
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(entries),
            "entry": entries,
        }
        return _fhir(200, bundle)

    async def _proposal(self, slot: dict[str, Any]) -> dict[str, Any]:
        schedule = (await self.fhir.get(f"/{slot['schedule']['reference']}")).json()
        return {
            "resourceType": "Appointment",
            "id": f"proposal-{slot['id']}",
            "status": "proposed",
            "start": slot["start"],
            "end": slot["end"],
            "slot": [{"reference": f"Slot/{slot['id']}"}],
            "participant": [
                {"actor": actor, "status": "needs-action"} for actor in schedule.get("actor", [])
            ],
        }

    async def _take(self, operation: str, params: dict[str, Any]) -> httpx.Response:
        if "appt-id" in params:
            slot_id = str(params["appt-id"]).removeprefix("proposal-")
        elif isinstance(params.get("appt-resource"), dict):
            slot_id = params["appt-resource"]["slot"][0]["reference"].split("/")[-1]
        else:
            return _outcome(400, "required", "appt-id or appt-resource is required")
        slot_response = await self.fhir.get(f"/Slot/{slot_id}")
        if slot_response.status_code != 200:
            return _outcome(404, "not-found", "no such proposal")
        slot = slot_response.json()
        if slot["status"] != "free":
            return _outcome(409, "conflict", "that time is no longer available")
        proposal = await self._proposal(slot)
        del proposal["id"]
        if operation == "hold":
            held = self.defect is not SchedulingDefect.HOLD_NOT_PENDING
            proposal["status"] = "pending" if held else "proposed"
            return _fhir(200, await self._store(proposal))
        if "patient-id" not in params:
            return _outcome(400, "required", "patient-id is required")
        proposal["status"] = "booked"
        proposal["participant"] = [
            {"actor": {"reference": f"Patient/{params['patient-id']}"}, "status": "accepted"},
            *({**p, "status": "accepted"} for p in proposal["participant"]),
        ]
        booked = await self._store(proposal)
        if self.defect is not SchedulingDefect.BOOK_LEAVES_TIME_FREE:
            version = slot["meta"]["versionId"]
            await self.fhir.put(
                f"/Slot/{slot_id}",
                json=dict(slot, status="busy"),
                headers={"Content-Type": FHIR_JSON, "If-Match": f'W/"{version}"'},
            )
        bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": booked}]}
        return _fhir(200, bundle)

    async def _store(self, appointment: dict[str, Any]) -> dict[str, Any]:
        response = await self.fhir.post(
            "/Appointment", json=appointment, headers={"Content-Type": FHIR_JSON}
        )
        response.raise_for_status()
        stored: dict[str, Any] = response.json()
        return stored


def _params(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in body.get("parameter") or ():
        value = p.get("resource")
        if value is None:
            value = next((v for k, v in p.items() if k.startswith("value")), None)
        out[p["name"]] = value
    return out


def _fhir(status: int, body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"Content-Type": FHIR_JSON})


def _outcome(status: int, code: str, text: str) -> httpx.Response:
    issue = {"severity": "error", "code": code, "diagnostics": text}
    return _fhir(status, {"resourceType": "OperationOutcome", "issue": [issue]})
