"""A small Argonaut/Epic-style FHIR endpoint for `$find`/`$book` tests (httpx.MockTransport).

It keeps the behaviour the gateway relies on, and nothing else:
- ``POST Appointment/$find`` (Parameters with the vendor's time names, e.g. Epic's
  ``startTime``/``endTime``) → a searchset Bundle of *proposed* Appointments for the
  times not yet booked; with ``ids=False`` the proposals carry no id (Argonaut allows it).
- ``POST Appointment/$book`` (``appt-id`` or ``appt-resource``, ``patient-id``, optional
  ``cancelled-appt-id``) → a Bundle with the booked Appointment; a taken time is refused
  with an OperationOutcome (409, or 422 with issue code ``conflict`` when ``taken_status``
  is 422).
- ``POST Appointment/$hold`` (``appt-id``), only with ``hold=True`` → the time becomes a
  *pending* Appointment that ``$find`` no longer offers and ``$book`` with its id books;
  cancelling it (PATCH) frees the time again.
- ``GET``/``PATCH Appointment/{id}`` (JSON Patch, If-Match checked against versionId);
  ``GET Patient/{id}``: any id is a patient.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

PRACTITIONER = "Practitioner/doc-1"
LOCATION = "Location/clinic-1"
TOMORROW = (datetime.now(UTC) + timedelta(days=1)).replace(
    hour=14, minute=0, second=0, microsecond=0
)


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _outcome(status: int, code: str, text: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}],
        },
        headers={"Content-Type": "application/fhir+json"},
    )


def _fhir(body: dict[str, Any], status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"Content-Type": "application/fhir+json"})


def _params(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in body.get("parameter") or ():
        value = p.get("resource")
        if value is None:
            value = next((v for k, v in p.items() if k.startswith("value")), None)
        out[p["name"]] = value
    return out


@dataclass
class FakeEpic:
    start_name: str = "startTime"
    end_name: str = "endTime"
    ids: bool = True
    # Argonaut $hold (Epic has none; a generic Argonaut server may).
    hold: bool = False
    taken_status: int = 409
    times: list[datetime] = field(
        default_factory=lambda: [TOMORROW + timedelta(minutes=30 * i) for i in range(3)]
    )
    appointments: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    # Operation name ("$find", "$book") -> how many of its next calls answer 503.
    fail_next: dict[str, int] = field(default_factory=dict)
    _temp: dict[str, datetime] = field(default_factory=dict)
    _next: int = 0

    # --- state the tests assert on -----------------------------------------------------

    def booked(self) -> list[dict[str, Any]]:
        return [a for a in self.appointments.values() if a["status"] == "booked"]

    def calls(self, op: str) -> int:
        return sum(1 for _, path, _ in self.requests if path.endswith(op))

    def pending(self) -> list[dict[str, Any]]:
        return [a for a in self.appointments.values() if a["status"] == "pending"]

    def taken(self, start: datetime) -> bool:
        return any(a["start"] == _instant(start) for a in [*self.booked(), *self.pending()])

    def book_directly(self, start: datetime, patient: str = "someone-else") -> str:
        """Another desk books ``start`` behind the gateway's back."""
        return str(self._create(start, patient)["id"])

    # --- the endpoint --------------------------------------------------------------------

    def handler(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.split("/")
        path = "/".join(parts[parts.index("Appointment") :]) if "Appointment" in parts else ""
        decoded = json.loads(request.content) if request.content else {}
        # A JSON Patch body is a list; keep it under "patch" so every body is a dict.
        body: dict[str, Any] = decoded if isinstance(decoded, dict) else {"patch": decoded}
        self.requests.append((request.method, path, body))
        op = path.rsplit("/", 1)[-1]
        if self.fail_next.get(op):
            self.fail_next[op] -= 1
            return _outcome(503, "transient", "try again")
        if request.method == "POST" and path == "Appointment/$find":
            return self._find(_params(body))
        if request.method == "POST" and path == "Appointment/$book":
            return self._book(_params(body))
        if request.method == "POST" and path == "Appointment/$hold" and self.hold:
            return self._hold(_params(body))
        if request.method == "GET" and request.url.path.split("/")[-2:-1] == ["Patient"]:
            # Any patient the tests name exists (the waitlist reads who joins).
            patient = request.url.path.rsplit("/", 1)[-1]
            return _fhir({"resourceType": "Patient", "id": patient, "active": True})
        if path.startswith("Appointment/"):
            appt = self.appointments.get(path.removeprefix("Appointment/"))
            if appt is None:
                return _outcome(404, "not-found", "no such appointment")
            if request.method == "GET":
                return _fhir(appt)
            if request.method == "PATCH":
                return self._patch(appt, body["patch"], request.headers.get("If-Match"))
        return _outcome(400, "not-supported", f"{request.method} {path}")

    def _proposal(self, start: datetime) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "Appointment",
            "status": "proposed",
            "start": _instant(start),
            "end": _instant(start + timedelta(minutes=30)),
            "serviceType": [{"coding": [{"code": "124"}]}],
            "participant": [
                {"actor": {"reference": PRACTITIONER}, "status": "accepted"},
                {"actor": {"reference": LOCATION}, "status": "accepted"},
            ],
        }
        if self.ids:
            # Epic's "temporary appointments" have ids that $book takes back.
            temp = f"temp-{int(start.timestamp())}"
            self._temp[temp] = start
            resource["id"] = temp
        return resource

    def _find(self, params: dict[str, Any]) -> httpx.Response:
        if self.start_name not in params or self.end_name not in params:
            return _outcome(400, "required", "time range parameters missing")
        lo = datetime.fromisoformat(params[self.start_name])
        hi = datetime.fromisoformat(params[self.end_name])
        entries = [
            {"resource": self._proposal(t), "search": {"mode": "match"}}
            for t in self.times
            if lo <= t < hi and not self.taken(t)
        ]
        return _fhir(
            {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
        )

    def _create(self, start: datetime, patient: str) -> dict[str, Any]:
        self._next += 1
        appt: dict[str, Any] = {
            "resourceType": "Appointment",
            "id": f"appt-{self._next}",
            "meta": {"versionId": "1"},
            "status": "booked",
            "start": _instant(start),
            "end": _instant(start + timedelta(minutes=30)),
            "participant": [
                {"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"},
                {"actor": {"reference": PRACTITIONER}, "status": "accepted"},
            ],
        }
        self.appointments[appt["id"]] = appt
        return appt

    def _hold(self, params: dict[str, Any]) -> httpx.Response:
        start = self._temp.get(params.get("appt-id", ""))
        if start is None:
            return _outcome(404, "not-found", "temporary appointment expired")
        if self.taken(start):
            return _outcome(self.taken_status, "conflict", "time no longer available")
        appt = self._create(start, "none")
        appt["status"] = "pending"
        appt["participant"] = appt["participant"][1:]  # nobody's yet
        return _fhir({"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": appt}]})

    def _book(self, params: dict[str, Any]) -> httpx.Response:
        patient = params.get("patient-id")
        if not patient:
            return _outcome(400, "required", "patient-id missing")
        held = self.appointments.get(params.get("appt-id", ""))
        if held is not None and held["status"] == "pending":
            held["status"] = "booked"
            held["participant"].insert(
                0, {"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"}
            )
            held["meta"] = {"versionId": str(int(held["meta"]["versionId"]) + 1)}
            return _fhir(
                {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": held}]}
            )
        if "appt-id" in params:
            start = self._temp.get(params["appt-id"])
            if start is None:
                return _outcome(404, "not-found", "temporary appointment expired")
        elif isinstance(params.get("appt-resource"), dict):
            start = datetime.fromisoformat(params["appt-resource"]["start"])
        else:
            return _outcome(400, "required", "appt-id or appt-resource missing")
        if self.taken(start):
            return _outcome(self.taken_status, "conflict", "time no longer available")
        cancelled = params.get("cancelled-appt-id")
        if cancelled is not None:
            old = self.appointments.get(cancelled)
            if old is None:
                return _outcome(404, "not-found", "appointment to cancel not found")
            old["status"] = "cancelled"
            old["meta"] = {"versionId": str(int(old["meta"]["versionId"]) + 1)}
        appt = self._create(start, patient)
        return _fhir({"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": appt}]})

    def _patch(
        self, appt: dict[str, Any], ops: list[dict[str, Any]], if_match: str | None
    ) -> httpx.Response:
        version = appt["meta"]["versionId"]
        if if_match is not None and if_match not in (f'W/"{version}"', f'"{version}"'):
            return _outcome(412, "conflict", "version mismatch")
        for op in ops:
            if op["op"] == "test" and appt.get(op["path"].lstrip("/")) != op["value"]:
                return _outcome(422, "processing", f"test failed at {op['path']}")
        for op in ops:
            if op["op"] in ("replace", "add"):
                appt[op["path"].lstrip("/")] = op["value"]
        appt["meta"] = {"versionId": str(int(version) + 1)}
        return _fhir(appt)
