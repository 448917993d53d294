"""A route whose endpoint takes the request and returns the response itself.

FastAPI's handler solves dependencies, validates a body and serialises the return value
on every request. An endpoint that reads its caller and body by hand (the cached coverage
check, the busiest call) has none of that to do, and on a cache hit that per-request
machinery cost more than the answer. The route is still declared with FastAPI, so the
OpenAPI document, exception handlers and middleware treat it like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import fastapi.routing
from fastapi import Request, Response
from fastapi.routing import APIRoute

__all__ = ["RequestOnlyRoute"]


class RequestOnlyRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        d = self.dependant
        declared = (
            d.path_params,
            d.query_params,
            d.header_params,
            d.cookie_params,
            d.body_params,
            d.dependencies,
        )
        if any(declared) or d.request_param_name is None:
            # Parameters would be declared, documented and then silently never filled.
            raise TypeError(f"{path}: a RequestOnlyRoute endpoint takes only the Request")

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        if _included_with_dependencies(self):
            # Dependencies added where the router is included (or on the app) must run:
            # FastAPI's own handler runs them, then calls the endpoint with the request.
            return super().get_route_handler()
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint


def _included_with_dependencies(route: APIRoute) -> bool:
    # FastAPI 0.16x builds an included route's handler under this context variable; it is
    # private, so its absence (another FastAPI) means no include-time dependencies to see.
    var = getattr(fastapi.routing, "_effective_route_context_var", None)
    context = var.get() if var is not None else None
    if context is None or getattr(context, "original_route", None) is not route:
        return False
    return bool(getattr(context, "dependencies", None))
