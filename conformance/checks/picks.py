"""Where a search row's parameter values come from: small picks from the subjects.

Each pick takes the run context and returns the value to send, or raises CheckSkipped
saying what the subject lacks (read-only mode meets records without, say, a phone).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from conformance.context import Resource, RunContext
from conformance.fixtures import (
    MRN_SYSTEM,
    OTHER_SYSTEM,
    family_of,
    identifier_of,
    patient_of,
    phone_of,
    refs,
)
from conformance.model import CheckSkipped
from mappers.fhir_dates import interval

__all__ = [
    "coding",
    "day",
    "element",
    "family",
    "first_ref",
    "identifier",
    "identifier_elsewhere",
    "identifier_value",
    "last_updated",
    "literal",
    "name_word",
    "patient_participant",
    "phone",
    "ref",
    "slot_pivot",
    "updated_before",
]

Pick = Callable[[RunContext], str]


def _lacks(resource: Resource, what: str) -> CheckSkipped:
    return CheckSkipped(f"the subject {resource.get('resourceType')} has no {what}")


def literal(value: str) -> Pick:
    return lambda ctx: value


def ref(key: str) -> Pick:
    """`Type/id` of the subject itself."""

    def pick(ctx: RunContext) -> str:
        subject = ctx.subject(key)
        return f"{subject['resourceType']}/{subject['id']}"

    return pick


def first_ref(key: str, element: str) -> Pick:
    """The first reference in one of the subject's elements (`Schedule.actor`...)."""

    def pick(ctx: RunContext) -> str:
        subject = ctx.subject(key)
        found = refs(subject.get(element))
        if not found:
            raise _lacks(subject, f"{element} reference")
        return found[0]

    return pick


def element(key: str, name: str) -> Pick:
    """A top-level primitive element as a string (`birthDate`, `status`)."""

    def pick(ctx: RunContext) -> str:
        subject = ctx.subject(key)
        value = subject.get(name)
        if not isinstance(value, str) or not value:
            raise _lacks(subject, name)
        return value

    return pick


def identifier(key: str) -> Pick:
    """`system|value` of the first identifier with a system."""

    def pick(ctx: RunContext) -> str:
        subject = ctx.subject(key)
        ident = identifier_of(subject)
        if ident is None:
            raise _lacks(subject, "identifier with a system")
        return f"{ident[0]}|{ident[1]}"

    return pick


def identifier_value(key: str) -> Pick:
    """The identifier's value alone: any system matches."""
    whole = identifier(key)
    return lambda ctx: whole(ctx).rpartition("|")[2]


def identifier_elsewhere(key: str) -> Pick:
    """The same value in another system: `system|value` is not `value`. The fixtures give
    another patient that value in OTHER_SYSTEM; on a server as found, no record has it."""
    whole = identifier(key)

    def pick(ctx: RunContext) -> str:
        value = whole(ctx).rpartition("|")[2]
        system = OTHER_SYSTEM if ctx.subjects.owned else f"{MRN_SYSTEM}:nonexistent"
        return f"{system}|{value}"

    return pick


def family(key: str) -> Pick:
    def pick(ctx: RunContext) -> str:
        subject = ctx.subject(key)
        value = family_of(subject)
        if value is None:
            raise _lacks(subject, "family name")
        return value

    return pick


def name_word(key: str) -> Pick:
    """The first word of `name`: a prefix of it, as a desk types it."""

    def pick(ctx: RunContext) -> str:
        subject = ctx.subject(key)
        name = subject.get("name")
        if not isinstance(name, str) or not name.split():
            raise _lacks(subject, "name")
        return name.split()[0]

    return pick


def phone(key: str) -> Pick:
    def pick(ctx: RunContext) -> str:
        subject = ctx.subject(key)
        value = phone_of(subject)
        if value is None:
            raise _lacks(subject, "phone number")
        return value

    return pick


def patient_participant(key: str) -> Pick:
    def pick(ctx: RunContext) -> str:
        subject = ctx.subject(key)
        value = patient_of(subject)
        if value is None:
            raise _lacks(subject, "patient participant")
        return value

    return pick


def day(key: str, name: str) -> Pick:
    """The calendar day (YYYY-MM-DD) of a dateTime element."""
    whole = element(key, name)
    return lambda ctx: whole(ctx)[:10]


def coding(key: str, name: str) -> Pick:
    """`system|code` of the first coding with both, in a CodeableConcept (list) element."""

    def pick(ctx: RunContext) -> str:
        subject = ctx.subject(key)
        concepts = subject.get(name)
        for concept in concepts if isinstance(concepts, list) else [concepts]:
            for c in (concept or {}).get("coding") or ():
                if isinstance(c, dict) and c.get("system") and c.get("code"):
                    return f"{c['system']}|{c['code']}"
        raise _lacks(subject, f"{name} coding with a system and a code")

    return pick


def slot_pivot(ctx: RunContext) -> str:
    """The start of the middle Slot of the subject Schedule: splits its slots in two."""
    ctx.subject("schedule")
    slots = [s for s in ctx.subjects.slots if isinstance(s.get("start"), str)]
    if len(slots) < 2:
        raise CheckSkipped("need a Schedule with at least two Slots")
    ordered = sorted(slots, key=lambda s: interval(s["start"])[0])
    return str(ordered[len(ordered) // 2]["start"])


def last_updated(key: str) -> Pick:
    def pick(ctx: RunContext) -> str:
        subject = ctx.subject(key)
        value = (subject.get("meta") or {}).get("lastUpdated")
        if not isinstance(value, str):
            raise _lacks(subject, "meta.lastUpdated")
        return value

    return pick


def updated_before(key: str) -> Pick:
    """The last change the kit knows of before the subject's: the high-water mark of an
    incremental reader that synced just before the subject changed. Without another
    known record (read-only mode), one millisecond before the subject's lastUpdated."""
    own = last_updated(key)

    def pick(ctx: RunContext) -> str:
        mine = interval(own(ctx))[0]
        earlier = [
            stamp
            for r in ctx.subjects.of_type(ctx.subject(key)["resourceType"])
            if isinstance(stamp := (r.get("meta") or {}).get("lastUpdated"), str)
            and interval(stamp)[0] < mine
        ]
        if earlier:
            return max(earlier, key=lambda s: interval(s)[0])
        return (mine - timedelta(milliseconds=1)).isoformat(timespec="milliseconds")

    return pick
