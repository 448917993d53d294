"""People's decisions on who is who: "not the same person" (a desk) and "same person" (a
supervisor), kept by the person index and honoured by every search and later build.
The EHRs' records are never changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mappers.model import Patient

from ..sources import TenantSources
from .errors import InvalidRequest, ServiceError

if TYPE_CHECKING:
    from ..identity.index import PersonIndex

__all__ = ["IndexDisabled", "decide"]


class IndexDisabled(ServiceError):
    code = "identity_disabled"
    title = "The person index is off"


async def decide(
    sources: TenantSources,
    index: PersonIndex | None,
    patient_id: str,
    other_id: str,
    verdict: str,
    *,
    by: str,
    reason: str | None,
) -> dict[str, Any]:
    if index is None:
        raise IndexDisabled("this gateway keeps no person index (identity.enabled is off)")
    if patient_id == other_id:
        raise InvalidRequest("other_id: a record is always the same person as itself")
    # Both must be this tenant's patients, and exist: "not found" otherwise.
    for record_id in (patient_id, other_id):
        handle, ref = sources.resolve(record_id, "Patient", "patient")
        await handle.read_mapped("Patient", ref.id, Patient, what="patient")
    decision = await index.decide(patient_id, other_id, verdict, by=by, reason=reason)
    return {k: decision[k] for k in ("verdict", "by", "at", "reason")}
