"""Where EHRs deliver rest-hook Subscription notifications."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from ..deps import RuntimeDep
from ..params import SOURCE_PATTERN
from ..problems import ProblemError
from ..scope_headers import header
from ..services.watch import hook_token

router = APIRouter(prefix="/v1/hooks", tags=["hooks"])

_ANSWERS = {
    200: {"description": "Received: the gateway reads what changed from the EHR."},
    401: {"description": "Not the token this source was given. Code: unauthorized."},
    404: {"description": "No such tenant or source, or it is not watched by hooks."},
}


ConfigId = Annotated[str, Path(pattern=SOURCE_PATTERN)]


async def _notified(
    request: Request, runtime: RuntimeDep, tenant: ConfigId, source: ConfigId
) -> Response:
    watch = runtime.watches.get((tenant, source))
    secret = runtime.settings.hooks.secret
    if watch is None or watch.hooks is None or secret is None:
        raise ProblemError(404, "not_found", "Not found", "no such hook")
    raw = header(request.scope, b"authorization") or b""
    expected = f"Bearer {hook_token(secret.read(), tenant, source)}".encode()
    if not hmac.compare_digest(raw, expected):
        raise ProblemError(401, "unauthorized", "Authentication required", "bad hook token")
    # The body (if any) is not trusted or kept: the feed reads the changes from the EHR.
    watch.poke()
    return Response(status_code=200)


for _method in ("POST", "PUT"):
    router.add_api_route(
        "/{tenant}/{source}",
        _notified,
        methods=[_method],
        operation_id=f"receiveNotification{_method.title()}",
        include_in_schema=_method == "POST",
        responses=_ANSWERS,  # type: ignore[arg-type]
    )
    # HAPI appends the changed resource's type and id when it sends a payload.
    router.add_api_route(
        "/{tenant}/{source}/{resource_type}/{resource_id}",
        _notified,
        methods=[_method],
        operation_id=f"receiveResourceNotification{_method.title()}",
        include_in_schema=False,
    )
