"""A thin FHIR REST helper for the contract tests: it shows the wire (method,
path, headers) and asserts nothing, so each test states what it expects."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

FHIR_JSON = "application/fhir+json"


def unique(prefix: str = "") -> str:
    """A value no other run uses, so runs against a long-lived HAPI never collide."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


class Fhir:
    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        params: Any = None,
        content_type: str = FHIR_JSON,
    ) -> httpx.Response:
        all_headers = {"Accept": FHIR_JSON, **(headers or {})}
        content = None
        if body is not None:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            all_headers.setdefault("Content-Type", content_type)
        url = path if path.startswith("http") else f"{self.base_url}/{path.lstrip('/')}"
        return await self.client.request(
            method, url, content=content, headers=all_headers, params=params
        )

    async def get(self, path: str, params: Any = None, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, params=params, **kw)

    async def post(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, body, **kw)

    async def put(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        return await self.request("PUT", path, body, **kw)

    async def create(self, resource: dict[str, Any]) -> dict[str, Any]:
        response = await self.post(resource["resourceType"], resource)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def transaction(
        self, entries: list[dict[str, Any]], kind: str = "transaction"
    ) -> httpx.Response:
        return await self.post("", {"resourceType": "Bundle", "type": kind, "entry": entries})

    def put_entry(self, resource: dict[str, Any]) -> dict[str, Any]:
        """A seed-like transaction entry: PUT Type/id, its fullUrl absolute as R4 wants."""
        url = f"{resource['resourceType']}/{resource['id']}"
        return {
            "fullUrl": f"{self.base_url}/{url}",
            "resource": resource,
            "request": {"method": "PUT", "url": url},
        }

    async def search_pages(self, resource_type: str, params: Any) -> list[dict[str, Any]]:
        """Every searchset page, following `next` links."""
        response = await self.get(resource_type, params=params)
        assert response.status_code == 200, response.text
        pages = [response.json()]
        while (url := next_link(pages[-1])) is not None:
            response = await self.get(url)
            assert response.status_code == 200, response.text
            pages.append(response.json())
        return pages

    async def search_ids(self, resource_type: str, params: Any) -> list[str]:
        pages = await self.search_pages(resource_type, params)
        return [
            entry["resource"]["id"]
            for page in pages
            for entry in page.get("entry", [])
            if entry["search"]["mode"] == "match"
        ]


def next_link(bundle: dict[str, Any]) -> str | None:
    return next(
        (link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None
    )


def diagnostics(response: httpx.Response) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return " ".join(issue.get("diagnostics", "") for issue in body["issue"])
