"""Find a patient, the patient card (demographics, insurance, upcoming appointments) and
registering a new patient after the duplicate check. Thin: each route reads its form,
calls the same service as API v1 and renders."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from mappers.model import Coverage

from ...params import GatewayIdPath
from ...schemas import (
    CoverageIn,
    MatchExplanation,
    PatientChangesIn,
    PatientOut,
    RegistrationRequest,
)
from ...services import appointments as queries
from ...services import booking, waitlist
from ...services import patient_records as records
from ...services import patients as service
from ...services.directory import DirectoryQuery
from ...services.errors import InvalidRequest
from ..desk import Desk, DeskDep, FormDeskDep
from ..money_panel import money_panel
from ..people import match_words, shown
from ..search_box import read_search
from ..waitlist_board import PRIORITY_WORDS, visit_words

router = APIRouter(prefix="/console", include_in_schema=False)
REGISTRATION_SYSTEM = "urn:frontdesk:desk-registration"
VISIT_SERVICE_TYPES = [("30", "Health benefit plan (general)"), ("98", "Office visit")]
CANCEL_REASONS = [
    "Patient asked to cancel",
    "Patient is unwell",
    "Practitioner unavailable",
    "Booked in error",
]


def _today(desk: Desk) -> Any:
    return datetime.now(desk.zone).date()


def _invalid(exc: ValidationError) -> InvalidRequest:
    """A form field the API's schema refuses, in words (field names, never values)."""
    fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
    return InvalidRequest(f"check these fields: {', '.join(fields)}")


# --- find -------------------------------------------------------------------------------


@router.get("/patients")
async def find_page(desk: DeskDep) -> Response:
    draft = await desk.take_draft("/console/patients")
    return desk.page(
        "find.html", nav="find", draft=draft, flash=await desk.take_flash(), results=None
    )


@router.post("/patients/search")
async def search(desk: FormDeskDep) -> Response:
    systems = [h.config.mrn_system for h in desk.sources.all() if h.config.mrn_system]
    read = read_search(desk.form.get("q", ""), systems)
    desk.audit("patient.search", sources=[h.id for h in desk.sources.all()])
    found: dict[str, PatientOut] = {}
    statuses: dict[str, Any] = {}
    for query in read.queries:
        items, answered = await service.search_patients(
            desk.sources, query, deadline_seconds=desk.runtime.settings.source_deadline_seconds
        )
        for item in items:
            found.setdefault(item.id, item)
        for status in answered:
            if status.status != "ok" or status.source not in statuses:
                statuses[status.source] = status
    desk.audit(
        "patient.search",
        patient_ids=[link.id for p in found.values() for link in p.links],
        sources=list(statuses),
    )
    results = [shown(p, _today(desk), read.birth_date) for p in found.values()]
    names = {r.id: r.name for r in results}
    return desk.view(
        "find.html",
        "_results.html",
        nav="find",
        draft={"q": desk.form.get("q", "")},
        results=results,
        names=names,
        how=read.how,
        statuses=list(statuses.values()),
    )


# --- the patient card -------------------------------------------------------------------


async def _waiting(desk: Desk, records: set[str]) -> dict[str, Any]:
    """The person's waitlist entries (any of their records) and what the join form
    offers; nothing when the user may not read the waitlist."""
    if "waitlist:read" not in desk.principal.scopes:
        return {"waitlist": None}
    tenant = desk.user.tenant
    entries = await waitlist.listing(desk.runtime.waitlists[tenant], waitlist.WaitlistFilter())
    directory = desk.runtime.directory[tenant]
    locations, _, _ = await directory.locations(DirectoryQuery())
    return {
        "waitlist": [e for e in entries if e.patient_id in records],
        "visit_words": await visit_words(directory),
        "locations": locations,
        "can_join": "waitlist:write" in desk.principal.scopes,
        "priority_words": PRIORITY_WORDS,
    }


async def card_context(
    desk: Desk, patient_id: str, *, after_action: bool = False
) -> dict[str, Any]:
    """What the card shows (``after_action``: the card shown again after an action,
    whose audit line it adds its patients to)."""
    settings = desk.runtime.settings
    if not after_action:
        desk.audit("patient.read", patient_ids=[patient_id])
    patient, statuses = await service.get_patient(
        desk.sources, patient_id, deadline_seconds=settings.source_deadline_seconds
    )
    ports = desk.runtime.records[desk.user.tenant]
    coverages: list[Coverage] = await records.coverages_of(ports, patient_id)
    now = datetime.now(desk.zone)
    upcoming, appointment_statuses = await queries.list_appointments(
        desk.sources,
        patient_id=patient_id,
        start=now - timedelta(hours=2),
        end=now + timedelta(days=settings.max_date_range_days - 1),
        max_days=settings.max_date_range_days,
        deadline_seconds=settings.source_deadline_seconds,
    )
    if after_action:
        desk.audit_also("patient.read", patient_ids=[link.id for link in patient.links])
    else:
        desk.audit(
            "patient.read",
            patient_ids=[link.id for link in patient.links],
            sources=[s.source for s in statuses],
        )
    upcoming = [a for a in upcoming if a.status not in ("cancelled", "entered-in-error")]
    return {
        "patient": patient,
        "person": shown(patient, now.date()),
        "coverages": coverages,
        "upcoming": upcoming,
        "statuses": [*statuses, *appointment_statuses],
        "service_types": VISIT_SERVICE_TYPES,
        "cancel_reasons": CANCEL_REASONS,
        "back": f"/console/patients/{patient_id}",
        **await money_panel(desk, patient_id, upcoming),
        **await _waiting(desk, {patient_id, *(link.id for link in patient.links)}),
    }


@router.get("/patients/new")
async def register_page(desk: DeskDep) -> Response:
    draft = await desk.take_draft("/console/patients/new")
    return desk.page(
        "register.html",
        nav="find",
        draft=draft,
        candidates=None,
        registration_key=draft.get("registration_key") or secrets.token_urlsafe(12),
        source_ids=[h.id for h in desk.sources.all()],
    )


@router.get("/patients/{patient_id}")
async def card(desk: DeskDep, patient_id: GatewayIdPath) -> Response:
    back = f"/console/patients/{patient_id}"
    draft = await desk.take_draft(back)
    return desk.page(
        "patient.html",
        nav="find",
        flash=await desk.take_flash(),
        draft=draft,
        **await card_context(desk, patient_id),
    )


def _changes(form: dict[str, str], patient: PatientOut) -> PatientChangesIn:
    """What the form changed, as the API's PATCH body (unchanged parts left out)."""
    body: dict[str, Any] = {}
    phone = form.get("phone", "")
    current_phone = patient.phones[0] if patient.phones else None
    if phone and (current_phone is None or phone != current_phone.value):
        body["phones"] = [{"value": phone, "use": current_phone.use if current_phone else None}]
    email = form.get("email", "")
    current_email = patient.emails[0] if patient.emails else None
    if email and (current_email is None or email != current_email.value):
        body["emails"] = [{"value": email, "use": current_email.use if current_email else None}]
    address = patient.address
    lines = [line for line in (form.get("line1", ""), form.get("line2", "")) if line]
    new_address = {
        "line": lines,
        "city": form.get("city") or None,
        "state": form.get("state") or None,
        "postal_code": form.get("postal_code") or None,
    }
    old_address = {
        "line": address.line if address else [],
        "city": address.city if address else None,
        "state": address.state if address else None,
        "postal_code": address.postal_code if address else None,
    }
    if new_address != old_address and any(new_address.values()):
        body["address"] = {
            **new_address,
            "use": address.use if address and address.use else "home",
            "country": address.country if address else None,
        }
    language = form.get("language", "")
    if language and language != (patient.language or ""):
        body["language"] = language
    try:
        return PatientChangesIn.model_validate(body)
    except ValidationError as exc:
        raise _invalid(exc) from None


@router.post("/patients/{patient_id}/demographics")
async def update_demographics(desk: FormDeskDep, patient_id: GatewayIdPath) -> Response:
    settings = desk.runtime.settings
    desk.audit("patient.update", patient_ids=[patient_id])
    patient, _ = await service.get_patient(
        desk.sources, patient_id, deadline_seconds=settings.source_deadline_seconds
    )
    changes = _changes(desk.form, patient)
    version = desk.form.get("version") or None
    ports = desk.runtime.records[desk.user.tenant]
    await records.update_patient(ports, patient_id, changes, if_match=version)
    message = (
        "Contact details saved."
        if changes.model_dump(exclude_defaults=True)
        else ("Nothing changed.")
    )
    if not desk.htmx:
        return await desk.redirect(f"/console/patients/{patient_id}", message)
    return desk.page("_card_body.html", saved=message, **await card_context(desk, patient_id))


def _coverage_in(form: dict[str, str]) -> CoverageIn:
    body: dict[str, Any] = {
        "relationship": form.get("relationship") or "self",
        "replaces": form.get("replaces") or None,
    }
    if form.get("self_pay") == "1":
        body["self_pay"] = True
    else:
        for name in ("payer_id", "payer_name", "member_id", "group_number", "plan_name"):
            if form.get(name):
                body[name] = form[name]
    try:
        return CoverageIn.model_validate(body)
    except ValidationError as exc:
        raise _invalid(exc) from None


@router.post("/patients/{patient_id}/insurance")
async def add_insurance(desk: FormDeskDep, patient_id: GatewayIdPath) -> Response:
    desk.audit("patient.coverage.add", patient_ids=[patient_id])
    body = _coverage_in(desk.form)
    await records.add_coverage(desk.runtime.records[desk.user.tenant], patient_id, body)
    message = "Insurance replaced." if body.replaces else "Insurance added."
    if not desk.htmx:
        return await desk.redirect(f"/console/patients/{patient_id}", message)
    return desk.page("_card_body.html", saved=message, **await card_context(desk, patient_id))


@router.post("/appointments/{appointment_id}/cancel")
async def cancel(desk: FormDeskDep, appointment_id: GatewayIdPath) -> Response:
    desk.audit("appointment.cancel")
    reason = desk.form.get("reason") or CANCEL_REASONS[0]
    if reason not in CANCEL_REASONS:
        raise InvalidRequest("choose a reason from the list")
    appointment = await booking.cancel(
        desk.runtime.booking[desk.user.tenant], appointment_id=appointment_id, reason=reason
    )
    desk.audit(
        "appointment.cancel",
        patient_ids=[appointment.patient_id] if appointment.patient_id else [],
        sources=[appointment.source.source],
    )
    patient_id = desk.form.get("patient") or appointment.patient_id or ""
    if not desk.htmx:
        return await desk.redirect(f"/console/patients/{patient_id}", "Appointment cancelled.")
    return desk.page(
        "_card_body.html", saved="Appointment cancelled.", **await card_context(desk, patient_id)
    )


# --- registration -----------------------------------------------------------------------


def _registration(desk: Desk) -> RegistrationRequest:
    form = desk.form
    source = form.get("source", "")
    handle = desk.sources.get(source)
    mrn = form.get("mrn", "")
    if mrn and (handle is None or not handle.config.mrn_system):
        raise InvalidRequest("this EHR's MRN system is not configured: leave the MRN empty")
    identifier = (
        {"system": handle.config.mrn_system, "value": mrn, "type": "MR"}
        if mrn and handle is not None
        else {"system": REGISTRATION_SYSTEM, "value": form.get("registration_key", "")}
    )
    body: dict[str, Any] = {
        "source": source,
        "identifier": identifier,
        "name": {
            "family": form.get("family", ""),
            "given": [g for g in form.get("given", "").split() if g],
        },
        "birth_date": form.get("birth_date") or None,
        "gender": form.get("gender") or None,
        "phones": [{"value": form["phone"], "use": "mobile"}] if form.get("phone") else [],
        "emails": [{"value": form["email"]}] if form.get("email") else [],
        "language": form.get("language") or None,
        "confirm_new": form.get("confirm_new") == "1",
    }
    if form.get("line1") or form.get("city"):
        body["address"] = {
            "line": [form["line1"]] if form.get("line1") else [],
            "city": form.get("city") or None,
            "state": form.get("state") or None,
            "postal_code": form.get("postal_code") or None,
            "use": "home",
        }
    try:
        return RegistrationRequest.model_validate(body)
    except ValidationError as exc:
        raise _invalid(exc) from None


@router.post("/patients/new")
async def register(desk: FormDeskDep) -> Response:
    body = _registration(desk)
    desk.audit("patient.register", sources=[body.source])
    ports = desk.runtime.records[desk.user.tenant]
    try:
        patient, _ = await records.register(ports, body)
    except records.PossibleDuplicate as exc:
        candidates = exc.extra.get("candidates", [])
        desk.audit(
            "patient.register",
            patient_ids=[c["patient"]["id"] for c in candidates],
            sources=[body.source],
        )
        today = _today(desk)
        return desk.view(
            "register.html",
            "_duplicates.html",
            status_code=409,
            nav="find",
            draft=desk.form,
            registration_key=desk.form.get("registration_key", ""),
            source_ids=[h.id for h in desk.sources.all()],
            partial=exc.extra.get("partial", False),
            candidates=[
                {
                    "person": shown(PatientOut.model_validate(c["patient"]), today),
                    "grade": c["grade"],
                    "agreeing": c["agreeing"],
                    "why": (
                        match_words(MatchExplanation.model_validate(c["match"]))
                        if c.get("match")
                        else None
                    ),
                }
                for c in candidates
            ],
        )
    desk.audit("patient.register", patient_ids=[patient.id], sources=[patient.source])
    path = f"/console/patients/{patient.id}"
    response = await desk.redirect(path, "Patient registered.")
    if desk.htmx:
        # htmx would follow a 303 inside the swap: a whole-page move is asked for instead.
        response = Response(status_code=200, headers={"HX-Redirect": path})
    return response
