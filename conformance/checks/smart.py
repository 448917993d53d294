"""SMART Backend Services, the way the gateway authenticates to an EHR
(connectors.SmartBackendAuth): discovery, then a client_credentials grant authenticated
by a private_key_jwt assertion (hl7.org/fhir/smart-app-launch/backend-services.html).

- `smart.configuration`: GET [base]/.well-known/smart-configuration declares the token
  endpoint, the client_credentials grant, private_key_jwt and RS384 or ES384. Skipped when
  the server offers no SMART configuration and no credentials were given (HAPI).
- With credentials (`frontdesk conformance --smart-client-id --smart-key --smart-kid`):
  the token round trip and use of the token, a request without one refused, and the
  authorization server's duties towards assertions: a replayed one (same `jti`) and one
  signed by an unregistered key are refused with `invalid_client`
  (client-confidential-asymmetric.html, "Signature Verification").

Token requests are recorded like every exchange; reports mask the tokens.
"""

from __future__ import annotations

import json

import httpx
from joserfc.jwk import ECKey, RSAKey

from conformance.checks import registrar
from conformance.context import Resource, RunContext, SmartCredentials, fail_unless
from conformance.model import Check, CheckFailed, CheckSkipped, Severity
from connectors import SmartBackendAuth

__all__ = ["CHECKS"]

CHECKS: list[Check] = []
check = registrar(CHECKS, "smart")

SMART = "https://hl7.org/fhir/smart-app-launch/"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SECURITY_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"
ALGORITHMS = frozenset({"RS384", "ES384"})
# SMART: expires_in "SHOULD NOT exceed 300".
SHORT_LIVED = 300


def _credentials(ctx: RunContext) -> SmartCredentials:
    if ctx.config.smart is None:
        raise CheckSkipped(
            "no SMART credentials given (--smart-client-id, --smart-key, --smart-kid)"
        )
    return ctx.config.smart


def _declares_smart(ctx: RunContext) -> bool:
    for rest in (ctx.capability or {}).get("rest") or ():
        for service in ((rest.get("security") or {}).get("service")) or ():
            for coding in (service or {}).get("coding") or ():
                if coding.get("system") == SECURITY_SERVICE and coding.get("code") == (
                    "SMART-on-FHIR"
                ):
                    return True
    return False


async def _fetch_configuration(ctx: RunContext) -> tuple[httpx.Response, Resource | None]:
    response = await ctx.unauthenticated.get(
        f"{ctx.base}/.well-known/smart-configuration", headers={"Accept": "application/json"}
    )
    try:
        doc = json.loads(response.content)
    except ValueError:
        doc = None
    return response, doc if response.status_code == 200 and isinstance(doc, dict) else None


async def _token_endpoint(ctx: RunContext) -> str:
    """The token endpoint of a usable configuration (smart.configuration judges it)."""
    if ctx.smart_configuration is None:
        _, ctx.smart_configuration = await _fetch_configuration(ctx)
    endpoint = (ctx.smart_configuration or {}).get("token_endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise CheckSkipped("no usable SMART configuration (see smart.configuration)")
    return endpoint


def _listed(doc: Resource, name: str) -> set[str]:
    value = doc.get(name)
    return {str(v) for v in value} if isinstance(value, list) else set()


@check(
    "smart.configuration",
    ".well-known/smart-configuration offers client_credentials with private_key_jwt "
    "(RS384 or ES384)",
    Severity.ERROR,
    SMART + "client-confidential-asymmetric.html",
)
async def configuration(ctx: RunContext) -> list[str]:
    response, doc = await _fetch_configuration(ctx)
    if doc is None and ctx.config.smart is None and not _declares_smart(ctx):
        raise CheckSkipped(
            f"the server offers no SMART configuration (answered {response.status_code}) "
            "and no SMART credentials were given"
        )
    if doc is None:
        raise CheckFailed(
            f"GET .well-known/smart-configuration answered {response.status_code} without a "
            "JSON object"
        )
    ctx.smart_configuration = doc
    problems = []
    endpoint = doc.get("token_endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        problems.append("no absolute token_endpoint")
    if "client_credentials" not in _listed(doc, "grant_types_supported"):
        problems.append("grant_types_supported lacks client_credentials")
    if "private_key_jwt" not in _listed(doc, "token_endpoint_auth_methods_supported"):
        problems.append("token_endpoint_auth_methods_supported lacks private_key_jwt")
    algorithms = _listed(doc, "token_endpoint_auth_signing_alg_values_supported")
    if not algorithms & ALGORITHMS:
        problems.append(
            "token_endpoint_auth_signing_alg_values_supported has neither RS384 nor ES384"
        )
    smart = ctx.config.smart
    if smart is not None and algorithms and smart.algorithm not in algorithms:
        problems.append(f"the given key signs {smart.algorithm}, which is not supported")
    fail_unless(not problems, "; ".join(problems))
    notes = [
        f"token endpoint {endpoint}",
        f"signing algorithms: {', '.join(sorted(algorithms))}",
    ]
    if "client-confidential-asymmetric" not in _listed(doc, "capabilities"):
        notes.append("capabilities does not list client-confidential-asymmetric")
    return notes


async def _request_token(
    ctx: RunContext, endpoint: str, assertion: str, scope: str
) -> httpx.Response:
    return await ctx.unauthenticated.post(
        endpoint,
        data={
            "grant_type": "client_credentials",
            "scope": scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
        headers={"Accept": "application/json"},
    )


def _signer(ctx: RunContext, credentials: SmartCredentials, endpoint: str) -> SmartBackendAuth:
    return credentials.auth(ctx.unauthenticated, token_endpoint=endpoint)


def _oauth_error(response: httpx.Response) -> str | None:
    try:
        doc = json.loads(response.content)
    except ValueError:
        return None
    error = doc.get("error") if isinstance(doc, dict) else None
    return error if isinstance(error, str) else None


def _refused_as_invalid_client(response: httpx.Response, what: str) -> str:
    fail_unless(
        response.status_code in (400, 401),
        f"{what}: the token endpoint answered {response.status_code}, not 400/401",
    )
    error = _oauth_error(response)
    fail_unless(
        error == "invalid_client", f"{what}: refused with error {error!r}, not 'invalid_client'"
    )
    return f"{what}: refused ({response.status_code} invalid_client)"


@check(
    "smart.token",
    "Backend Services token round trip: a private_key_jwt assertion buys a bearer token "
    "the FHIR server accepts",
    Severity.ERROR,
    SMART + "backend-services.html",
)
async def token(ctx: RunContext) -> list[str]:
    credentials = _credentials(ctx)
    endpoint = await _token_endpoint(ctx)
    assertion = _signer(ctx, credentials, endpoint).assertion(endpoint)
    response = await _request_token(ctx, endpoint, assertion, credentials.scope)
    fail_unless(
        response.status_code == 200,
        f"the token request answered {response.status_code} ({_oauth_error(response)})",
    )
    doc = response.json()
    problems = []
    access = doc.get("access_token")
    if not isinstance(access, str) or not access:
        problems.append("no access_token")
    if str(doc.get("token_type", "")).lower() != "bearer":
        problems.append(f"token_type is {doc.get('token_type')!r}, not bearer")
    lifetime = doc.get("expires_in")
    if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime <= 0:
        problems.append("no positive integer expires_in")
    if not isinstance(doc.get("scope"), str):
        problems.append("no scope")
    fail_unless(not problems, "token response: " + "; ".join(problems))
    notes = [f"token issued for scope {doc['scope']!r}, expires_in {lifetime}"]
    if isinstance(lifetime, int) and lifetime > SHORT_LIVED:
        notes.append(f"expires_in exceeds the {SHORT_LIVED} s SMART recommends")
    used = await ctx.unauthenticated.get(
        f"{ctx.base}/Patient",
        params={"_count": "1"},
        headers={"Accept": "application/fhir+json", "Authorization": f"Bearer {access}"},
    )
    fail_unless(used.status_code == 200, f"GET Patient with the token answered {used.status_code}")
    notes.append("GET Patient?_count=1 with the token: 200")
    return notes


@check(
    "smart.token-required",
    "Without a token, a FHIR request is refused with 401 Unauthorized",
    Severity.ERROR,
    SMART + "backend-services.html",
)
async def token_required(ctx: RunContext) -> list[str]:
    _credentials(ctx)
    response = await ctx.unauthenticated.get(
        f"{ctx.base}/Patient", params={"_count": "1"}, headers={"Accept": "application/fhir+json"}
    )
    fail_unless(
        response.status_code == 401,
        f"GET Patient without a token answered {response.status_code}, not 401",
    )
    return ["GET Patient?_count=1 without a token: 401"]


@check(
    "smart.assertion-replay",
    "A client assertion used twice (same jti) is refused the second time (invalid_client)",
    Severity.ERROR,
    SMART + "client-confidential-asymmetric.html",
)
async def assertion_replay(ctx: RunContext) -> list[str]:
    credentials = _credentials(ctx)
    endpoint = await _token_endpoint(ctx)
    assertion = _signer(ctx, credentials, endpoint).assertion(endpoint)
    first = await _request_token(ctx, endpoint, assertion, credentials.scope)
    if first.status_code != 200:
        raise CheckFailed(f"the first use of the assertion answered {first.status_code}")
    again = await _request_token(ctx, endpoint, assertion, credentials.scope)
    return ["first use: token issued", _refused_as_invalid_client(again, "the replay")]


@check(
    "smart.unregistered-key",
    "An assertion signed by a key the client never registered is refused (invalid_client)",
    Severity.ERROR,
    SMART + "client-confidential-asymmetric.html",
)
async def unregistered_key(ctx: RunContext) -> list[str]:
    credentials = _credentials(ctx)
    endpoint = await _token_endpoint(ctx)
    # Same client, same kid, a key of the same kind the server has never seen.
    other: RSAKey | ECKey = (
        ECKey.generate_key("P-384")
        if isinstance(credentials.private_key, ECKey)
        else RSAKey.generate_key(2048)
    )
    forged = SmartCredentials(
        credentials.client_id, other, credentials.kid, credentials.scope, credentials.jku
    )
    assertion = _signer(ctx, forged, endpoint).assertion(endpoint)
    response = await _request_token(ctx, endpoint, assertion, credentials.scope)
    return [_refused_as_invalid_client(response, "an assertion signed by another key")]
