"""The payer simulator as an ASGI app: X12 270 → 271 and FHIR eligibility, with faults.

    app = create_payer_app()                       # seed members + SIMPAYER scenarios
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://payer.sandbox") as http:
        await http.post("/x12/270", content=x12_270,
                        headers={"Content-Type": "application/edi-x12"})

Routes:
- ``POST /x12/270``: a raw 270 (text/plain or application/edi-x12) answered with a raw
  271, or a CAQH CORE HTTP+MIME envelope (multipart/form-data) answered in kind.
- ``POST /fhir/CoverageEligibilityRequest/$submit``: answers a
  CoverageEligibilityResponse; ``POST /fhir/CoverageEligibilityRequest`` (create, with
  If-None-Exist) stores the request, and ``GET /fhir/CoverageEligibilityResponse?request=
  CoverageEligibilityRequest/{id}`` finds its response.
- ``GET /healthz``; ``GET /_sim/stats``, ``POST /_sim/control`` (JSON knobs),
  ``POST /_sim/reset`` for whoever runs the simulator out of process.

Faults (`SimulatorControl` on ``app.state.control``) apply to eligibility routes only:
every request is counted first, then delayed, then maybe refused (503, dropped
connection, 429 with Retry-After) or answered "payer unable to respond" (AAA 42).
"""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from simulators.payer.control import Fault, SimulatorControl, Sleep
from simulators.payer.core_envelope import (
    CoreEnvelope,
    EnvelopeError,
    is_multipart,
    read_envelope,
    write_envelope,
)
from simulators.payer.fhir_eligibility import FhirRequestError, build_response, read_request
from simulators.payer.inquiry import decide
from simulators.payer.members import Member, MemberTable
from simulators.payer.scenarios import SIM_PAYER_ID, SIM_PAYER_NAME, scenario_members
from simulators.payer.x12_270 import InquiryError, read_270
from simulators.payer.x12_271 import build_271

__all__ = ["create_payer_app", "default_members", "simulator_control"]

Clock = Callable[[], datetime]
FHIR_JSON = "application/fhir+json"
X12_TEXT = "application/edi-x12"
# Requests kept for the create-then-search flow; a simulator must not grow without bound.
_STORED_REQUESTS = 10_000


def default_members(*, seed: int | None = None, today: date | None = None) -> MemberTable:
    """SIMPAYER scenario members plus one member per Coverage the seed data holds."""
    from simulators.payer.seed_members import seed_members, seed_payers

    members: Iterable[Member] = (*scenario_members(), *seed_members(seed=seed, today=today))
    return MemberTable(members, payers={SIM_PAYER_ID: SIM_PAYER_NAME, **seed_payers()})


def create_payer_app(
    members: MemberTable | None = None,
    *,
    latency: float = 0.0,
    failure_rate: float = 0.0,
    rate_limit_every: int = 0,
    retry_after: int = 1,
    seed: int = 0,
    sleep: Sleep | None = None,
    clock: Clock | None = None,
    data_seed: int | None = None,
    today: date | None = None,
) -> Starlette:
    """A payer answering for ``members`` (default: `default_members(seed=data_seed, today=)`).

    ``seed`` drives the random failures; ``sleep`` and ``clock`` are injectable so
    tests run instantly and deterministically.
    """
    table = members if members is not None else default_members(seed=data_seed, today=today)
    control = SimulatorControl(
        latency=latency,
        failure_rate=failure_rate,
        rate_limit_every=rate_limit_every,
        retry_after=retry_after,
        seed=seed,
    )
    if sleep is not None:
        control.sleep = sleep
    payer = _Payer(table, control, clock or (lambda: datetime.now(UTC)))
    routes = [
        Route("/healthz", payer.healthz, methods=["GET"]),
        Route("/_sim/stats", payer.stats, methods=["GET"]),
        Route("/_sim/control", payer.set_control, methods=["POST"]),
        Route("/_sim/reset", payer.reset, methods=["POST"]),
        Route("/x12/270", payer.x12, methods=["POST"]),
        Route("/fhir/metadata", payer.metadata, methods=["GET"]),
        Route("/fhir/CoverageEligibilityRequest/$submit", payer.fhir_submit, methods=["POST"]),
        Route("/fhir/CoverageEligibilityRequest", payer.fhir_create, methods=["POST"]),
        Route("/fhir/CoverageEligibilityRequest/{id}", payer.fhir_read_request, methods=["GET"]),
        Route("/fhir/CoverageEligibilityResponse", payer.fhir_search, methods=["GET"]),
        Route("/fhir/CoverageEligibilityResponse/{id}", payer.fhir_read_response, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.control = control
    app.state.members = table
    return app


def simulator_control(app: Starlette) -> SimulatorControl:
    control = app.state.control
    if not isinstance(control, SimulatorControl):
        raise TypeError("not an app made by create_payer_app")
    return control


class _Dropped(Response):
    """Start the answer, then drop the connection (a payer dying mid-response).

    Under a real server the client sees the connection close; through
    httpx.ASGITransport the raised httpx.RemoteProtocolError reaches the client as is.
    """

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise httpx.RemoteProtocolError("payer simulator dropped the connection")


class _Payer:
    def __init__(self, table: MemberTable, control: SimulatorControl, clock: Clock) -> None:
        self.table = table
        self.control = control
        self.clock = clock
        self.requests: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.responses: OrderedDict[str, dict[str, Any]] = OrderedDict()

    # --- operations -------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "members": len(self.table)})

    async def stats(self, request: Request) -> Response:
        return JSONResponse(self.control.stats())

    async def set_control(self, request: Request) -> Response:
        try:
            changes = json.loads(await request.body())
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object")
            self.control.update(changes)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(self.control.stats())

    async def reset(self, request: Request) -> Response:
        self.control.reset()
        return JSONResponse(self.control.stats())

    # --- X12 --------------------------------------------------------------------

    async def x12(self, request: Request) -> Response:
        return await self._guarded("x12", self._x12, request)

    async def _x12(self, request: Request, fault: Fault | None) -> Response:
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        envelope: CoreEnvelope | None = None
        now = self.clock()
        if is_multipart(content_type):
            try:
                envelope = read_envelope(content_type, body)
            except EnvelopeError as exc:
                content, kind = write_envelope(
                    payload="", request=None, now=now, error_code=exc.code, error_message=str(exc)
                )
                return Response(content, status_code=400, media_type=kind)
            text = envelope.payload
        else:
            text = body.decode("utf-8", errors="replace")
        try:
            inquiry = read_270(text)
        except InquiryError as exc:
            return Response(f"not a 270: {exc}", status_code=400, media_type="text/plain")
        decision = decide(inquiry.query(now.date()), self.table, payer_down=fault == "aaa42")
        x12_271 = build_271(
            inquiry, decision, payer_name=self.table.payer_name(inquiry.payer_id), now=now
        )
        if envelope is None:
            return Response(x12_271, media_type=X12_TEXT)
        content, kind = write_envelope(payload=x12_271, request=envelope, now=now)
        return Response(content, media_type=kind)

    # --- FHIR -------------------------------------------------------------------

    async def fhir_submit(self, request: Request) -> Response:
        return await self._guarded("fhir-submit", self._submit, request)

    async def _submit(self, request: Request, fault: Fault | None) -> Response:
        answer = await self._answer(request, fault, request_id=None)
        if isinstance(answer, Response):
            return answer
        return _fhir(answer)

    async def fhir_create(self, request: Request) -> Response:
        return await self._guarded("fhir-create", self._create, request)

    async def _create(self, request: Request, fault: Fault | None) -> Response:
        existing = self._if_none_exist(request.headers.get("if-none-exist"))
        if existing is not None:
            return _fhir(self.requests[existing], status=200)
        request_id = uuid.uuid4().hex
        answer = await self._answer(request, fault, request_id=request_id)
        if isinstance(answer, Response):
            return answer
        stored = dict(json.loads(await request.body()))
        stored["id"] = request_id
        _keep(self.requests, request_id, stored)
        _keep(self.responses, answer["id"], answer)
        return _fhir(
            stored,
            status=201,
            headers={"Location": f"{request.base_url}fhir/CoverageEligibilityRequest/{request_id}"},
        )

    async def fhir_search(self, request: Request) -> Response:
        wanted = request.query_params.get("request", "")
        wanted_id = wanted.rsplit("/", 1)[-1]
        matches = [
            r
            for r in self.responses.values()
            if r.get("request", {}).get("reference") == f"CoverageEligibilityRequest/{wanted_id}"
        ]
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "entry": [
                {"fullUrl": f"CoverageEligibilityResponse/{r['id']}", "resource": r}
                for r in matches
            ],
        }
        return _fhir(bundle)

    async def fhir_read_request(self, request: Request) -> Response:
        return _read(self.requests, request.path_params["id"])

    async def fhir_read_response(self, request: Request) -> Response:
        return _read(self.responses, request.path_params["id"])

    async def metadata(self, request: Request) -> Response:
        return _fhir(
            {
                "resourceType": "CapabilityStatement",
                "status": "active",
                "date": "2025-01-01",
                "kind": "instance",
                "fhirVersion": "4.0.1",
                "format": ["json"],
                "rest": [
                    {
                        "mode": "server",
                        "resource": [
                            {
                                "type": "CoverageEligibilityRequest",
                                "interaction": [{"code": "create"}, {"code": "read"}],
                                "operation": [
                                    {
                                        "name": "submit",
                                        "definition": "urn:frontdesk:payer-sim:submit",
                                    }
                                ],
                            },
                            {
                                "type": "CoverageEligibilityResponse",
                                "interaction": [{"code": "read"}, {"code": "search-type"}],
                                "searchParam": [{"name": "request", "type": "reference"}],
                            },
                        ],
                    }
                ],
            }
        )

    async def _answer(
        self, request: Request, fault: Fault | None, *, request_id: str | None
    ) -> dict[str, Any] | Response:
        now = self.clock()
        try:
            question = read_request(json.loads(await request.body()), today=now.date())
        except (ValueError, FhirRequestError) as exc:
            message = str(exc) if isinstance(exc, FhirRequestError) else "body is not JSON"
            return _fhir(_outcome("invalid", message), status=400)
        decision = decide(question.query, self.table, payer_down=fault == "aaa42")
        return build_response(
            question,
            decision,
            payer_name=self.table.payer_name(question.query.payer_id),
            now=now,
            request_id=request_id,
        )

    def _if_none_exist(self, header: str | None) -> str | None:
        if not header or not header.startswith("identifier="):
            return None
        system, _, value = header.removeprefix("identifier=").partition("|")
        for request_id, stored in self.requests.items():
            for ident in stored.get("identifier") or ():
                if ident.get("system") == system and ident.get("value") == value:
                    return request_id
        return None

    # --- faults -----------------------------------------------------------------

    async def _guarded(
        self,
        route: str,
        handler: Callable[[Request, Fault | None], Awaitable[Response]],
        request: Request,
    ) -> Response:
        control = self.control
        control.received(route)
        fault = control.fault()
        if fault == "throttled":
            # A clearinghouse over its concurrency limit refuses at once, before the payer.
            return _refusal(route, 429, "too many requests", control.retry_after)
        await control.delay()
        if fault == "drop":
            return _Dropped()
        if fault == "unavailable":
            return _refusal(route, 503, "payer unavailable", control.retry_after)
        return await handler(request, fault)


def _refusal(route: str, status: int, message: str, retry_after: int) -> Response:
    headers = {"Retry-After": str(retry_after)}
    if route.startswith("fhir"):
        code = "throttled" if status == 429 else "transient"
        return _fhir(_outcome(code, message), status=status, headers=headers)
    return Response(message, status_code=status, media_type="text/plain", headers=headers)


def _outcome(code: str, message: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}],
    }


def _fhir(
    resource: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(json.dumps(resource), status_code=status, media_type=FHIR_JSON, headers=headers)


def _read(store: OrderedDict[str, dict[str, Any]], key: str) -> Response:
    resource = store.get(key)
    if resource is None:
        return _fhir(_outcome("not-found", "no such resource"), status=404)
    return _fhir(resource)


def _keep(store: OrderedDict[str, dict[str, Any]], key: str, value: dict[str, Any]) -> None:
    store[key] = value
    while len(store) > _STORED_REQUESTS:
        store.popitem(last=False)
