"""What a refused booking shows the desk, on the booking screen and the waitlist alike:
the patient's other appointment at that time with the next free slots (and, for a
supervisor, booking anyway with a reason), and a patient with no record in the slot's EHR
in words."""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import ValidationError

from ..problems import ProblemError
from ..schemas import Override, SlotOut
from ..services.conflicts import PatientConflict
from ..services.errors import InvalidRequest
from .clashes import from_refusal
from .desk import Desk

__all__ = ["OVERRIDE_SCOPE", "conflict_view", "not_in_source_words", "override_reason"]

OVERRIDE_SCOPE = "appointments:override"


def override_reason(desk: Desk) -> str | None:
    """Why the desk books over the patient's other appointment (the form's
    ``override_reason``), or None when it doesn't ask to. Only a supervisor may."""
    if "override_reason" not in desk.form:
        return None
    if OVERRIDE_SCOPE not in desk.principal.scopes:
        raise ProblemError(
            403, "forbidden", "Not allowed", "only a supervisor may book over a conflict"
        )
    try:
        return Override.model_validate({"reason": desk.form["override_reason"]}).reason
    except ValidationError:
        raise InvalidRequest("say why the patient is booked anyway") from None


def conflict_view(desk: Desk, exc: PatientConflict) -> dict[str, Any]:
    """What a ``409 patient_conflict`` shows: the other appointments, the next free
    slots, and whether this desk may book anyway."""
    return {
        "conflicts": from_refusal(exc.extra),
        "partial": bool(exc.extra.get("partial")),
        "alternatives": [SlotOut.model_validate(s) for s in exc.extra.get("alternatives", [])],
        "can_override": OVERRIDE_SCOPE in desk.principal.scopes,
        "idempotency_key": secrets.token_urlsafe(16),
    }


def not_in_source_words(source: str) -> str:
    return (
        f"This patient has no record in {source}: register them there or pick their record there."
    )
