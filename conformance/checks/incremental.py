"""Incremental reads: what changed since a sync, the way the person index keeps up with
an EHR (paged search by `_lastUpdated`, or the history since an instant).

The subject is a Patient changed last (write mode: a fixture updated after the others
were created; on a server as found, one left alone for a minute for `_lastUpdated`, the
newest version in the history for `_since`). `_lastUpdated` is a search row run by
`search_engine`; the type-level history (`GET [base]/Patient/_history?_since=`) is
written out below.
"""

from __future__ import annotations

import itertools
from typing import Any

from conformance.checks import picks, registrar
from conformance.checks.search_engine import SearchCase, as_checks, date, string
from conformance.context import Resource, RunContext, fail_unless
from conformance.model import Check, CheckSkipped, Severity
from mappers.fhir_dates import interval

__all__ = ["CASES", "CHECKS"]

MAX_PAGES = 5

CASES: list[SearchCase] = [
    SearchCase(
        "incremental.last-updated",
        "Patient?_lastUpdated=gt… returns what changed after an instant, le… the rest",
        "search.html#lastUpdated",
        "Patient",
        # The family name keeps each answer to the kit's own records (and namesakes).
        queries=tuple(
            (
                string("family", ("name.family",), picks.family("recent")),
                date(
                    "_lastUpdated",
                    "meta.lastUpdated",
                    picks.updated_before("recent"),
                    prefix=prefix,
                    shown=True,
                ),
            )
            for prefix in ("gt", "le")
        ),
        about=("_lastUpdated",),
    ),
]

CHECKS: list[Check] = as_checks(CASES, "incremental")
check = registrar(CHECKS, "incremental")


def _declares_type_history(ctx: RunContext, rtype: str) -> bool | None:
    """Whether the CapabilityStatement declares history-type for `rtype` (None: unknown)."""
    if ctx.capability is None:
        return None
    for rest in ctx.capability.get("rest") or ():
        for res in rest.get("resource") or ():
            if isinstance(res, dict) and res.get("type") == rtype:
                codes = {i.get("code") for i in res.get("interaction") or () if isinstance(i, dict)}
                return "history-type" in codes
    return False


def _changed_at(entry: dict[str, Any]) -> str | None:
    """When a history entry's version was made (deletions may not say)."""
    resource = entry.get("resource")
    if isinstance(resource, dict):
        stamp = (resource.get("meta") or {}).get("lastUpdated")
        if isinstance(stamp, str):
            return stamp
    stamp = (entry.get("response") or {}).get("lastModified")
    return stamp if isinstance(stamp, str) else None


def _version_of(entry: dict[str, Any]) -> tuple[str, str] | None:
    resource = entry.get("resource")
    if isinstance(resource, dict):
        return str(resource.get("id")), str((resource.get("meta") or {}).get("versionId"))
    return None


async def _newest_version(ctx: RunContext) -> Resource:
    """On a server as found, the Patient version made last (from the history itself, as
    deleted patients leave newer versions than any live one): the history since it is
    short even where many write, as newest versions come first."""
    response = await ctx.get(f"{ctx.base}/Patient/_history", params={"_count": "20"})
    fail_unless(response.status_code == 200, f"Patient/_history answered {response.status_code}")
    for entry in response.json().get("entry") or ():
        resource = entry.get("resource")
        if isinstance(resource, dict) and (resource.get("meta") or {}).get("lastUpdated"):
            return resource
    raise CheckSkipped("the Patient history holds no version with a lastUpdated")


@check(
    "incremental.history-since",
    "Patient/_history?_since= lists the versions changed at or after the instant, newest "
    "first, none older",
    Severity.ERROR,
    "http.html#history",
)
async def history_since(ctx: RunContext) -> list[str]:
    if _declares_type_history(ctx, "Patient") is False:
        raise CheckSkipped("the CapabilityStatement does not declare Patient history-type")
    # The kit's own (or the caller's tagged) patient changed last; else the server's.
    mine = ctx.subjects.owned or ctx.config.scope_tag is not None
    subject = ctx.subject("recent") if mine else await _newest_version(ctx)
    since = str((subject.get("meta") or {}).get("lastUpdated"))
    wanted = (str(subject["id"]), str((subject.get("meta") or {}).get("versionId")))
    start = interval(since)[0]
    url: str | None = f"{ctx.base}/Patient/_history"
    params: dict[str, str] | None = {"_since": since, "_count": "200"}
    seen: list[tuple[str, str]] = []
    older: list[str] = []
    times: list[Any] = []
    entries = pages = 0
    while url is not None and pages < MAX_PAGES:
        pages += 1
        response = await ctx.get(url, params=params)
        fail_unless(response.status_code == 200, f"page {pages} answered {response.status_code}")
        bundle = response.json()
        fail_unless(
            bundle.get("resourceType") == "Bundle" and bundle.get("type") == "history",
            "the answer is not a history Bundle",
        )
        for entry in bundle.get("entry") or ():
            entries += 1
            stamp = _changed_at(entry)
            if stamp is not None:
                times.append(interval(stamp)[0])
                if interval(stamp)[1] <= start:
                    older.append(f"{entry.get('fullUrl', '?')} at {stamp}")
            version = _version_of(entry)
            if version is not None:
                seen.append(version)
        if wanted in seen:
            break
        url = next(
            (x["url"] for x in bundle.get("link") or () if x.get("relation") == "next"), None
        )
        params = None
    fail_unless(not older, f"versions changed before _since={since}: {older[:5]}")
    fail_unless(
        all(a >= b for a, b in itertools.pairwise(times)), "the history is not newest first"
    )
    fail_unless(
        wanted in seen,
        f"Patient/{wanted[0]} version {wanted[1]} (changed at {since}) is not in the history",
    )
    return [f"_history?_since={since}: {entries} version(s), none older, the subject's among them"]
