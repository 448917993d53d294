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
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint
