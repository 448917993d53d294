"""Eligibility transports: move a request to a payer and bring the answer back, unparsed.

- `FhirEligibility`: CoverageEligibilityRequest → CoverageEligibilityResponse, by
  `CoverageEligibilityRequest/$submit` or, for payers that work that way, by create and
  then a search for the response that references the request.
- `X12Eligibility`: POST a 270 to a clearinghouse and return the raw 271, either as a
  plain HTTP body or inside the CAQH CORE connectivity envelope (HTTP+MIME, rule vC2.2.0).

Building a 270 and parsing a 271 belong to `mappers.x12`. A real-time check has a
20-second budget (CAQH CORE Phase I rule 156), which is the default deadline here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from connectors.breaker import CircuitBreaker, ConcurrencyLimit
from connectors.client import FhirClient
from connectors.clock import Clock, SystemClock
from connectors.core_envelope import (
    REQUEST_PAYLOAD_TYPE,
    RULE_VERSION,
    decode_fields,
    encode_fields,
    is_multipart,
    timestamp,
)
from connectors.errors import ProtocolError, Rejected
from connectors.metrics import MetricsHook
from connectors.policy import Policy
from connectors.upstream import Call, Upstream

__all__ = ["CORE_REALTIME_BUDGET", "FhirEligibility", "X12Eligibility"]

# CAQH CORE: a real-time 270 must be answered (271 or 999) within 20 seconds.
CORE_REALTIME_BUDGET = 20.0

Resource = dict[str, Any]


class FhirEligibility:
    def __init__(self, client: FhirClient, *, mode: Literal["submit", "create"] = "submit") -> None:
        self._client = client
        self._mode = mode

    async def check(self, request: Mapping[str, Any]) -> Resource:
        """Send a CoverageEligibilityRequest; return the CoverageEligibilityResponse."""
        if request.get("resourceType") != "CoverageEligibilityRequest":
            raise ValueError("expected a CoverageEligibilityRequest")
        if self._mode == "submit":
            # An eligibility inquiry has no side effect at the payer: safe to repeat.
            answer = await self._client.operation(
                "$submit",
                resource_type="CoverageEligibilityRequest",
                parameters=request,
                idempotent=True,
            )
            return self._response_in(answer)
        created = await self._client.create(request, if_none_exist=_identifier_query(request))
        async for resource in self._client.search(
            "CoverageEligibilityResponse",
            {"request": f"CoverageEligibilityRequest/{created.get('id')}"},
        ):
            return resource
        raise self._missing()

    def _response_in(self, answer: Resource) -> Resource:
        kind = answer.get("resourceType")
        if kind == "CoverageEligibilityResponse":
            return answer
        if kind == "Bundle":
            for entry in answer.get("entry") or ():
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if (
                    isinstance(resource, dict)
                    and resource.get("resourceType") == "CoverageEligibilityResponse"
                ):
                    return resource
        if kind == "Parameters":
            for param in answer.get("parameter") or ():
                resource = param.get("resource") if isinstance(param, dict) else None
                if (
                    isinstance(resource, dict)
                    and resource.get("resourceType") == "CoverageEligibilityResponse"
                ):
                    return resource
        raise self._missing()

    def _missing(self) -> ProtocolError:
        return ProtocolError(
            "no CoverageEligibilityResponse in the answer",
            source=self._client.source,
            method="POST",
            url_template="/CoverageEligibilityRequest/$submit",
            retryable=False,
        )


def _identifier_query(request: Mapping[str, Any]) -> str | None:
    for ident in request.get("identifier") or ():
        if isinstance(ident, dict) and ident.get("system") and ident.get("value"):
            return f"identifier={ident['system']}|{ident['value']}"
    return None


class X12Eligibility:
    """POST an X12 270 to a clearinghouse endpoint; return the raw 271 (or 999) text."""

    def __init__(
        self,
        endpoint: str,
        *,
        http: httpx.AsyncClient,
        auth: httpx.Auth | None = None,
        envelope: Literal["plain", "core"] = "plain",
        sender_id: str = "",
        receiver_id: str = "",
        source: str = "clearinghouse",
        policy: Policy | None = None,
        clock: Clock | None = None,
        metrics: MetricsHook | None = None,
        breaker: CircuitBreaker | None = None,
        limit: ConcurrencyLimit | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._envelope = envelope
        self._sender = sender_id
        self._receiver = receiver_id
        self._clock = clock or SystemClock()
        self._upstream = Upstream(
            source,
            http,
            auth=auth,
            policy=policy or Policy(deadline=CORE_REALTIME_BUDGET),
            clock=self._clock,
            breaker=breaker,
            limit=limit,
            metrics=metrics,
        )

    async def exchange(self, x12_270: str) -> str:
        """Send one real-time 270; the 20-second CORE budget bounds every retry."""
        if self._envelope == "core":
            content, content_type = self._core_request(x12_270)
        else:
            content, content_type = x12_270.encode(), "application/edi-x12"
        call = Call(
            "POST",
            self._endpoint,
            "{clearinghouse}",
            "x12-270",
            headers={"Content-Type": content_type, "Accept": "*/*"},
            content=content,
            # A 270 is an inquiry: repeating it changes nothing at the payer.
            idempotent=True,
        )
        deadline = min(self._upstream.policy.deadline, CORE_REALTIME_BUDGET)
        return await self._upstream.call(call, self._parse, deadline=deadline)

    def _core_request(self, payload: str) -> tuple[bytes, str]:
        return encode_fields(
            {
                "ProcessingMode": "RealTime",
                "PayloadType": REQUEST_PAYLOAD_TYPE,
                "PayloadID": str(uuid.uuid4()),
                "TimeStamp": timestamp(datetime.fromtimestamp(self._clock.wall(), UTC)),
                "SenderID": self._sender,
                "ReceiverID": self._receiver,
                "CORERuleVersion": RULE_VERSION,
                "Payload": payload,
            }
        )

    def _parse(self, response: httpx.Response, body: bytes) -> str:
        content_type = response.headers.get("Content-Type", "")
        if not is_multipart(content_type):
            return body.decode("utf-8", errors="replace")
        fields = decode_fields(content_type, body)
        error_code = fields.get("ErrorCode", "Success")
        if error_code not in ("", "Success"):
            raise Rejected(
                f"CORE envelope error {error_code}",
                source=self._upstream.source,
                method="POST",
                url_template="{clearinghouse}",
                status=response.status_code,
            )
        if "Payload" not in fields:
            raise ProtocolError(
                "CORE envelope without Payload",
                source=self._upstream.source,
                method="POST",
                url_template="{clearinghouse}",
                status=response.status_code,
            )
        return fields["Payload"]
