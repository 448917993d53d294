"""What every check gets: the clients, the record, the settings and the subjects under test."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc.jwk import ECKey, RSAKey

from conformance.model import CheckFailed, CheckSkipped, Mode
from conformance.recorder import Recorder
from conformance.redact import Redactor
from connectors import FhirClient, SearchPage, SearchParams, SmartBackendAuth, VendorProfile

__all__ = ["KitConfig", "RunContext", "SmartCredentials", "Subjects"]

Resource = dict[str, Any]

TAG_SYSTEM = "urn:frontdesk:conformance"


@dataclass(frozen=True)
class SmartCredentials:
    """A SMART Backend Services client registered with the server's authorization service
    (client-confidential-asymmetric): its id and the private key whose public key it
    registered. With them every request of the run carries a token, and the `smart`
    checks make the token round trip themselves."""

    client_id: str
    private_key: RSAKey | ECKey
    kid: str
    scope: str = "system/*.rs"
    jku: str | None = None  # the JWK Set URL registered for the client, if any

    @property
    def algorithm(self) -> str:
        return "ES384" if isinstance(self.private_key, ECKey) else "RS384"

    def __repr__(self) -> str:  # never print the key
        return f"SmartCredentials(client_id={self.client_id!r}, kid={self.kid!r})"

    def auth(
        self,
        http: httpx.AsyncClient,
        *,
        fhir_base_url: str | None = None,
        token_endpoint: str | None = None,
    ) -> SmartBackendAuth:
        """The production flow (connectors.SmartBackendAuth) for these credentials;
        `http` carries its token requests and must not itself use this auth."""
        return SmartBackendAuth(
            client_id=self.client_id,
            private_key=self.private_key,
            kid=self.kid,
            scope=self.scope,
            http=http,
            fhir_base_url=fhir_base_url,
            token_endpoint=token_endpoint,
            jku=self.jku,
            source="conformance",
        )


@dataclass(frozen=True)
class KitConfig:
    base_url: str
    profile: VendorProfile
    mode: Mode = Mode.READ_ONLY
    only: frozenset[str] = frozenset()  # groups (or check ids) to run; empty = all
    show_phi: bool = False
    # Read-only mode: pick subjects only among resources with this tag ("system|code").
    scope_tag: str | None = None
    # Write mode: leave the tagged fixtures in place (e.g. to run read-only over them next).
    keep_fixtures: bool = False
    smart: SmartCredentials | None = None


@dataclass
class Subjects:
    """The records the search checks look for: the kit's own fixtures in write mode,
    records found on the server in read-only mode (`owned` says which).

    `known` is the answer key of the table-driven searches: every record of each type
    the kit knows. A search must return each known record that satisfies its criteria,
    and nothing that fails them.
    """

    owned: bool = False
    patient: Resource | None = None
    # Patients sharing the main patient's family name (write mode: exactly these exist).
    namesakes: list[Resource] = field(default_factory=list)
    # The Patient updated last (incremental reads: _lastUpdated, _history?_since).
    recent: Resource | None = None
    schedule: Resource | None = None
    slots: list[Resource] = field(default_factory=list)  # every Slot of `schedule`
    appointment: Resource | None = None
    coverage: Resource | None = None
    practitioner: Resource | None = None
    location: Resource | None = None
    role: Resource | None = None  # a PractitionerRole with practitioner, location, specialty
    known: dict[str, list[Resource]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # why some could not be found

    def of_type(self, resource_type: str) -> list[Resource]:
        return self.known.get(resource_type, [])


@dataclass
class RunContext:
    config: KitConfig
    http: httpx.AsyncClient  # records every exchange; raw probes use it directly
    fhir: FhirClient  # the production connector, on the same http client
    recorder: Recorder
    redactor: Redactor
    run_id: str
    subjects: Subjects = field(default_factory=Subjects)
    capability: Resource | None = None
    # (resourceType, id) the kit created, in creation order, for cleanup.
    created: list[tuple[str, str]] = field(default_factory=list)
    # Recorded like `http` but never authenticated by the kit: discovery, token requests
    # and probes that set their own Authorization (None: `http` is not authenticated).
    plain: httpx.AsyncClient | None = None
    smart_configuration: Resource | None = None

    @property
    def unauthenticated(self) -> httpx.AsyncClient:
        return self.plain if self.plain is not None else self.http

    @property
    def base(self) -> str:
        return self.config.base_url.rstrip("/")

    @property
    def write(self) -> bool:
        return self.config.mode is Mode.WRITE

    def tag(self) -> dict[str, str]:
        return {"system": TAG_SYSTEM, "code": self.run_id}

    def need(self, value: Resource | None, what: str) -> Resource:
        """The subject, or skip the check saying what the server lacked."""
        if value is None:
            why = "; ".join(self.subjects.problems) or "none found"
            raise CheckSkipped(f"no {what} to test with ({why})")
        return value

    def subject(self, key: str) -> Resource:
        """The subject named `key` (a `Subjects` field), or skip the check."""
        value = getattr(self.subjects, key)
        return self.need(value if isinstance(value, dict) else None, key)

    async def page(self, resource_type: str, params: list[tuple[str, str]]) -> SearchPage:
        """One search page through the connector (no page walking: checks decide that)."""
        return await self.fhir.search_page(resource_type, SearchParams(tuple(params)))

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.http.get(url, headers={"Accept": "application/fhir+json"}, **kw)

    def phi(self, value: object) -> str:
        return self.redactor.phi(value)


def fail_unless(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)
