"""The sandbox's versioned, in-memory resource store.

Holds every version of every resource (a deleted resource keeps a tombstone
version, so a read answers 410 Gone as HAPI does), assigns server ids, checks
what HAPI FHIR JPA checks on write (resource type, id format, required status
codes, referential integrity on write and on delete) and can roll a whole
transaction back.

The store is synchronous and not thread-safe: the ASGI app serialises writes
with one asyncio.Lock, so conditional creates and If-Match updates stay correct
under concurrent requests.
"""

from __future__ import annotations

import copy
import secrets
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulators.fhir_server.outcome import FhirError, bad_request, not_found
from simulators.fhir_server.references import iter_references, parse_local, valid_id
from simulators.fhir_server.registry import STATUS_CODES, SUPPORTED_TYPES
from simulators.fhir_server.search import Query

Resource = dict[str, Any]
Clock = Callable[[], datetime]

_SOURCE_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class Version:
    """One stored version; `resource` is None for a deletion (tombstone)."""

    resource_type: str
    id: str
    version_id: int
    last_updated: datetime
    resource: Resource | None

    @property
    def deleted(self) -> bool:
        return self.resource is None

    def body(self) -> Resource:
        """A private copy of the resource, safe for the caller to change."""
        if self.resource is None:
            raise gone(self)
        return copy.deepcopy(self.resource)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did: `created` (201 vs 200) and `changed` (False: no new version)."""

    version: Version
    created: bool
    changed: bool = True


@dataclass
class _Transaction:
    """Undo log of one transaction plus the checks deferred to its end."""

    undo: list[tuple[str, str, int]] = field(default_factory=list)
    next_id: int = 0
    written: set[tuple[str, str]] = field(default_factory=set)
    deleted: set[tuple[str, str]] = field(default_factory=set)


def format_instant(moment: datetime) -> str:
    """HAPI's instant format: milliseconds and an explicit +00:00 offset."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def gone(version: Version) -> FhirError:
    when = format_instant(version.last_updated)
    return FhirError(410, f"Resource was deleted at {when}", code="deleted")


def parse_if_match(header: str) -> int:
    """The version number in an If-Match header: W/"3", "3" or 3 (as HAPI accepts)."""
    value = header.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    if not value.isdigit():
        raise bad_request(f"Invalid If-Match header value: {header!r}")
    return int(value)


class FhirStore:
    """Every version of every resource of the supported types, in creation order."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._histories: dict[str, dict[str, list[Version]]] = {t: {} for t in SUPPORTED_TYPES}
        self._next_id = 1
        self._tx: _Transaction | None = None

    # -- reading -------------------------------------------------------------

    def supports(self, resource_type: str) -> bool:
        return resource_type in self._histories

    def current(self, resource_type: str, resource_id: str) -> Version | None:
        history = self._histories.get(resource_type, {}).get(resource_id)
        return history[-1] if history else None

    def read(self, resource_type: str, resource_id: str) -> Version:
        """The current version; 404 if it never existed, 410 if deleted."""
        version = self.current(resource_type, resource_id)
        if version is None:
            raise not_found(f"Resource {resource_type}/{resource_id} is not known")
        if version.deleted:
            raise gone(version)
        return version

    def vread(self, resource_type: str, resource_id: str, version_id: str) -> Version:
        history = self._histories.get(resource_type, {}).get(resource_id)
        if not history:
            raise not_found(f"Resource {resource_type}/{resource_id} is not known")
        for version in history:
            if str(version.version_id) == version_id:
                if version.deleted:
                    raise gone(version)
                return version
        raise not_found(
            f'Version "{version_id}" is not valid for resource {resource_type}/{resource_id}'
        )

    def history(self, resource_type: str, resource_id: str) -> list[Version]:
        """Every version of one resource, oldest first; 404 if it never existed."""
        history = self._histories.get(resource_type, {}).get(resource_id)
        if not history:
            raise not_found(f"Resource {resource_type}/{resource_id} is not known")
        return list(history)

    def type_history(self, resource_type: str, since: datetime | None = None) -> list[Version]:
        """Every version of every resource of one type changed at or after `since`,
        newest first (GET [base]/{type}/_history?_since=)."""
        versions = [
            v
            for history in self._histories[resource_type].values()
            for v in history
            if since is None or v.last_updated >= since
        ]
        return sorted(versions, key=lambda v: v.last_updated, reverse=True)

    def live(self, resource_type: str) -> Iterator[Version]:
        """Current, non-deleted versions of one type, oldest resource first."""
        for history in self._histories[resource_type].values():
            if not history[-1].deleted:
                yield history[-1]

    def find(self, query: Query) -> list[Version]:
        """The live resources of the query's type that match it, in creation order."""
        ids = query.ids()
        if ids is not None:
            histories = self._histories[query.resource_type]
            wanted = set(ids)
            if len(wanted) * 8 < len(histories):
                found = [histories[i][-1] for i in wanted if i in histories]
                order = {i: n for n, i in enumerate(ids)}
                return sorted(
                    (v for v in found if not v.deleted and query.matches(v.resource or {})),
                    key=lambda v: order.get(v.id, 0),
                )
        return [v for v in self.live(query.resource_type) if query.matches(v.resource or {})]

    def count(self, resource_type: str) -> int:
        return sum(1 for _ in self.live(resource_type))

    # -- writing ---------------------------------------------------------------

    def create(
        self,
        resource: Resource,
        *,
        if_none_exist: Query | None = None,
        resource_id: str | None = None,
    ) -> WriteResult:
        """POST: a new resource with a server id (or one from `allocate_id`); with
        If-None-Exist, 0/1/>1 matches give create / the existing one (200) / 412,
        as HAPI does."""
        resource_type = self._checked_type(resource)
        if if_none_exist is not None:
            matches = self.find(if_none_exist)
            if len(matches) == 1:
                return WriteResult(matches[0], created=False, changed=False)
            if len(matches) > 1:
                raise FhirError(
                    412,
                    f"Failed to CREATE {resource_type} with match URL "
                    f'"{if_none_exist.text}" because this search matched '
                    f"{len(matches)} resources",
                )
            if not if_none_exist.matches(resource):
                raise bad_request(
                    f"Failed to process conditional create. The supplied resource "
                    f"{resource_type}?{if_none_exist.text} of type {resource_type} did not "
                    f"satisfy the conditional URL."
                )
        new_id = resource_id or self.allocate_id()
        return WriteResult(self._write(resource_type, new_id, resource), created=True)

    def update(
        self,
        resource_type: str,
        resource_id: str,
        resource: Resource,
        *,
        if_match: int | None = None,
    ) -> WriteResult:
        """PUT: update, or create with the client's id; identical content makes no new
        version (HAPI's no-op update); a stale If-Match is 412."""
        self._check_body_type(resource_type, resource)
        body_id = resource.get("id")
        if body_id is None:
            raise bad_request(
                "Can not update resource, resource body must contain an ID element for "
                "update (PUT) operation"
            )
        if body_id != resource_id:
            raise bad_request(
                "Can not update resource, resource body must contain an ID element which "
                "matches the request URL for update (PUT) operation - Resource body ID of "
                f'"{body_id}" does not match URL ID of "{resource_id}"'
            )
        if not valid_id(resource_id):
            raise bad_request(
                f"Can not process entity with ID[{resource_id}], this is not a valid FHIR ID"
            )
        current = self.current(resource_type, resource_id)
        if current is None or current.deleted:
            if current is None and resource_id.isdigit():
                raise bad_request(
                    f"Can not create resource with ID[{resource_id}], no resource with this ID "
                    "exists and clients may only assign IDs which contain at least one "
                    "non-numeric character"
                )
            return WriteResult(self._write(resource_type, resource_id, resource), created=True)
        if if_match is not None and if_match != current.version_id:
            raise FhirError(
                412,
                f"Trying to update {resource_type}/{resource_id}/_history/{if_match} but this "
                "is not the current version",
                code="conflict",
            )
        if _content(resource) == _content(current.resource or {}):
            return WriteResult(current, created=False, changed=False)
        return WriteResult(self._write(resource_type, resource_id, resource), created=False)

    def delete(self, resource_type: str, resource_id: str) -> Version | None:
        """DELETE: a tombstone version; None when there was nothing to delete (HAPI: 200).
        Refused with 409 while a live resource refers to it."""
        current = self.current(resource_type, resource_id)
        if current is None or current.deleted:
            return None
        if self._tx is not None:
            self._tx.deleted.add((resource_type, resource_id))
        else:
            self._check_unreferenced(resource_type, resource_id)
        return self._append(resource_type, resource_id, None)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside succeed together or are undone; reference checks run at
        the end, so entries may refer to resources written later in the same Bundle."""
        if self._tx is not None:
            raise bad_request("Nested transactions are not supported")
        tx = _Transaction(next_id=self._next_id)
        self._tx = tx
        try:
            yield
            for resource_type, resource_id in sorted(tx.written):
                version = self.current(resource_type, resource_id)
                if version is not None and version.resource is not None:
                    self._check_references(version.resource)
            for resource_type, resource_id in sorted(tx.deleted):
                self._check_unreferenced(resource_type, resource_id)
        except BaseException:
            self._rollback(tx)
            raise
        finally:
            self._tx = None

    # -- internals -------------------------------------------------------------

    def _checked_type(self, resource: Resource) -> str:
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str):
            raise bad_request(
                "Invalid JSON content detected, missing required element: 'resourceType'"
            )
        if not self.supports(resource_type):
            raise not_found(f"Unknown resource type '{resource_type}'")
        return resource_type

    def _check_body_type(self, resource_type: str, resource: Resource) -> None:
        found = self._checked_type(resource)
        if found != resource_type:
            raise bad_request(
                f'Incorrect resource type found, expected "{resource_type}" but found "{found}"'
            )

    def allocate_id(self) -> str:
        """A fresh server id. One counter for all types, numeric like HAPI's (clients
        can't create numeric ids, so the two never collide)."""
        while True:
            candidate = str(self._next_id)
            self._next_id += 1
            if all(candidate not in by_id for by_id in self._histories.values()):
                return candidate

    def _write(self, resource_type: str, resource_id: str, resource: Resource) -> Version:
        _check_status(resource_type, resource)
        body = copy.deepcopy(resource)
        body["id"] = resource_id
        if self._tx is not None:
            self._tx.written.add((resource_type, resource_id))
        else:
            self._check_references(body)
        return self._append(resource_type, resource_id, body)

    def _append(self, resource_type: str, resource_id: str, body: Resource | None) -> Version:
        history = self._histories[resource_type].setdefault(resource_id, [])
        if self._tx is not None:
            self._tx.undo.append((resource_type, resource_id, len(history)))
        version_id = history[-1].version_id + 1 if history else 1
        now = self._clock()
        if body is not None:
            meta = {
                k: v
                for k, v in body.get("meta", {}).items()
                if k not in ("versionId", "lastUpdated")
            }
            meta.setdefault(
                "source", "#" + "".join(secrets.choice(_SOURCE_ALPHABET) for _ in range(16))
            )
            body["meta"] = {
                "versionId": str(version_id),
                "lastUpdated": format_instant(now),
                **meta,
            }
            # Keep HAPI's element order: resourceType, id, meta, then the rest.
            body = {
                "resourceType": body["resourceType"],
                "id": resource_id,
                "meta": body["meta"],
                **body,
            }
        version = Version(resource_type, resource_id, version_id, now, body)
        history.append(version)
        return version

    def _rollback(self, tx: _Transaction) -> None:
        for resource_type, resource_id, length in reversed(tx.undo):
            by_id = self._histories[resource_type]
            if length == 0:
                by_id.pop(resource_id, None)
            else:
                del by_id[resource_id][length:]
        self._next_id = tx.next_id

    def _check_references(self, resource: Resource) -> None:
        resource_type = resource["resourceType"]
        for path, reference in iter_references(resource):
            where = f"{resource_type}.{path}"
            if reference.startswith("#"):
                continue
            if reference.startswith("urn:"):
                raise bad_request(
                    f"Unable to satisfy placeholder ID {reference} found in element named "
                    f"'{path}' within resource of type: {resource_type}"
                )
            if "://" in reference:
                raise bad_request(
                    f'Resource contains external reference to URL "{reference}" but this '
                    "server is not configured to allow external references"
                )
            target = parse_local(reference)
            if target is None:
                raise FhirError(422, f"Invalid reference found at path '{where}': {reference!r}")
            version = self.current(*target) if self.supports(target[0]) else None
            if version is None or version.deleted:
                raise bad_request(
                    f"Resource {target[0]}/{target[1]} not found, specified in path: {where}"
                )

    def _check_unreferenced(self, resource_type: str, resource_id: str) -> None:
        wanted = (resource_type, resource_id)
        for other_type in self._histories:
            for version in self.live(other_type):
                for path, reference in iter_references(version.resource):
                    if parse_local(reference) == wanted:
                        raise FhirError(
                            409,
                            f"Unable to delete {resource_type}/{resource_id} because at least "
                            "one resource has a reference to this resource. First reference "
                            f"found was resource {other_type}/{version.id} in path "
                            f"{other_type}.{path}",
                            code="conflict",
                        )


def _check_status(resource_type: str, resource: Resource) -> None:
    allowed = STATUS_CODES.get(resource_type)
    status = resource.get("status")
    if allowed is not None and status is not None and status not in allowed:
        raise bad_request(
            f'[element="status"] Invalid attribute value "{status}": Unknown {resource_type} '
            f"status code '{status}'"
        )


def _content(resource: Resource) -> Resource:
    """A resource without the server-managed meta fields, for no-change detection."""
    meta = {
        k: v
        for k, v in resource.get("meta", {}).items()
        if k not in ("versionId", "lastUpdated", "source")
    }
    body = {k: v for k, v in resource.items() if k != "meta"}
    if meta:
        body["meta"] = meta
    return body
