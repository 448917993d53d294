"""Send seed Bundles to a FHIR server and count what each entry did.

``load(fhir, bundles)`` posts each transaction Bundle in order through anything with an
``async transaction(bundle)`` (``connectors.FhirClient`` does). Entry outcomes are read
from the transaction-response: ``201`` is a create; ``200`` is an update, or "unchanged"
when the server says it detected no change (HAPI's storage response code
``SUCCESSFUL_UPDATE_NO_CHANGE``, or no ``lastModified`` for the entry: HAPI and the
sandbox only send it when a new version was written). A second load of the same data
therefore reports 0 created and 0 updated.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["SeedError", "SeedReport", "TransactionPort", "load"]

Outcome = Literal["created", "updated", "unchanged"]
_NO_CHANGE = "SUCCESSFUL_UPDATE_NO_CHANGE"


class TransactionPort(Protocol):
    async def transaction(self, bundle: Mapping[str, Any]) -> Mapping[str, Any]: ...


class SeedError(RuntimeError):
    """The server answered a transaction in a way the loader can't account for."""


@dataclass
class SeedReport:
    counts: Counter[str] = field(default_factory=Counter)  # entries sent, per resource type
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    bundles: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def record(self, resource_type: str, outcome: Outcome) -> None:
        self.counts[resource_type] += 1
        {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}[outcome][
            resource_type
        ] += 1


def entry_outcome(response: Mapping[str, Any]) -> Outcome:
    """What one transaction-response entry's ``response`` says happened."""
    status = str(response.get("status", "")).split(" ", 1)[0]
    if status == "201":
        return "created"
    if status != "200":
        raise SeedError(f"unexpected entry status {response.get('status')!r}")
    codes = {
        coding.get("code")
        for issue in (response.get("outcome") or {}).get("issue", [])
        for coding in (issue.get("details") or {}).get("coding", [])
    }
    if _NO_CHANGE in codes or "lastModified" not in response:
        return "unchanged"
    return "updated"


async def load(
    fhir: TransactionPort, bundles: Iterable[Mapping[str, Any]], *, clock: Any = time.perf_counter
) -> SeedReport:
    """Post each Bundle in order; the report counts outcomes per resource type."""
    report = SeedReport()
    started = clock()
    for bundle in bundles:
        entries = bundle.get("entry", [])
        answer = await fhir.transaction(bundle)
        replies = answer.get("entry", [])
        if len(replies) != len(entries):
            raise SeedError(
                f"transaction-response has {len(replies)} entries for {len(entries)} sent"
            )
        # FHIR: response entries come in the order of the request entries.
        for sent, reply in zip(entries, replies, strict=True):
            resource_type = str(sent["request"]["url"]).split("/", 1)[0]
            report.record(resource_type, entry_outcome(reply.get("response", {})))
        report.bundles += 1
    report.seconds = clock() - started
    return report
