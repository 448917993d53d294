"""Deterministic synthetic front-desk data for one EHR, as FHIR R4 JSON.

``build_resources(profile, seed=, today=)`` returns the resources (dicts);
``build_bundles`` packs them into transaction Bundles of PUTs with stable client ids, so
loading twice changes nothing (HAPI keeps the version when a PUT changes nothing).
The output depends only on (profile, seed, today): ``today`` anchors the slot window
(the 14 days after it), past visits and coverage periods.

Resource ids are the same in both profiles (``Patient/p-1001`` exists in both EHRs and
is a different person in each) and always contain a letter: HAPI's default client id
strategy (ALPHANUMERIC) refuses all-digit ids.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mappers.npi import npi_check_digit
from mappers.outbound import PAYER_ID_SYSTEM
from simulators.seed.catalog import PAYERS, PRACTITIONER_NAMES, Payer
from simulators.seed.people import DEFAULT_SEED, Person, Registration, roster
from simulators.seed.profiles import Clinic, EhrProfile, profile

__all__ = [
    "MAX_BUNDLE_ENTRIES",
    "RESOURCE_ORDER",
    "SLOT_WINDOW_DAYS",
    "build_bundles",
    "build_resources",
]

Resource = dict[str, Any]

SLOT_WINDOW_DAYS = 14
MAX_BUNDLE_ENTRIES = 500
# Referenced resources first: HAPI checks referential integrity on write.
RESOURCE_ORDER = (
    "Organization",
    "Practitioner",
    "Location",
    "Patient",
    "Schedule",
    "Slot",
    "Coverage",
    "Appointment",
)

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
SERVICE_TYPE = "http://terminology.hl7.org/CodeSystem/service-type"
SNOMED = "http://snomed.info/sct"
V2_0276 = "http://terminology.hl7.org/CodeSystem/v2-0276"
CANCEL_REASON = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
TIMEZONE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/timezone"


@dataclass(frozen=True)
class ServiceType:
    code: str
    display: str
    minutes: int


GENERAL_PRACTICE = ServiceType("124", "General Practice", 30)
IMMUNIZATION = ServiceType("57", "Immunization", 15)

SPECIALTIES = (
    ("394814009", "General practice"),
    ("419772000", "Family practice"),
    ("394537008", "Paediatric specialty"),
)
CANCEL_REASONS = (
    ("pat", "Patient"),
    ("pat-crs", "Patient: Canceled via automated reminder system"),
    ("prov", "Provider"),
    ("oth-weath", "Other: Weather"),
)
APPOINTMENT_TYPES = (
    ("ROUTINE", "Routine appointment"),
    ("FOLLOWUP", "A follow up visit"),
    ("CHECKUP", "A routine check-up"),
)
EMPLOYERS = (
    "Acme Logistics",
    "Harbor Freight Lines",
    "City Schools",
    "Riverside Hospital",
    "Summit Software",
    "Lakeside Foods",
    "Metro Transit",
    "Greenfield University",
)
PHONE_FORMATS = (
    "({a}) {b}-{c}",
    "{a}-{b}-{c}",
    "{a}.{b}.{c}",
    "{a}{b}{c}",
    "+1 {a} {b} {c}",
    "+1{a}{b}{c}",
    "1-{a}-{b}-{c}",
)


def _cc(system: str, code: str, display: str) -> Resource:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _ref(resource_type: str, id_: str, display: str | None = None) -> Resource:
    ref: Resource = {"reference": f"{resource_type}/{id_}"}
    if display:
        ref["display"] = display
    return ref


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _format_phone(rng: random.Random, digits: str) -> str:
    return rng.choice(PHONE_FORMATS).format(a=digits[:3], b=digits[3:6], c=digits[6:])


def _npi(base: int) -> str:
    """A ten-digit NPI whose last digit is its check digit."""
    body = f"{base:09d}"
    return body + npi_check_digit(body)


# --- organizations, practitioners, locations ------------------------------------------


def _organizations(ehr: EhrProfile) -> list[Resource]:
    clinic_org: Resource = {
        "resourceType": "Organization",
        "id": ehr.organization_id,
        "active": True,
        "type": [
            _cc(
                "http://terminology.hl7.org/CodeSystem/organization-type",
                "prov",
                "Healthcare Provider",
            )
        ],
        "name": ehr.name,
    }
    payers = [
        {
            "resourceType": "Organization",
            "id": f"payer-{payer.payer_id}",
            "active": True,
            "identifier": [{"system": PAYER_ID_SYSTEM, "value": payer.payer_id}],
            "type": [
                _cc("http://terminology.hl7.org/CodeSystem/organization-type", "pay", "Payer")
            ],
            "name": payer.name,
        }
        for payer in PAYERS
    ]
    return [clinic_org, *payers]


@dataclass(frozen=True)
class _Practitioner:
    id: str
    number: int
    given: str
    family: str
    gender: str
    clinic: Clinic
    services: tuple[ServiceType, ...]
    specialty: tuple[str, str]

    @property
    def display(self) -> str:
        return f"Dr. {self.given} {self.family}"


def _practitioners(ehr: EhrProfile, rng: random.Random) -> list[_Practitioner]:
    names = rng.sample(PRACTITIONER_NAMES, ehr.practitioners)
    out = []
    for i, (given, family, gender) in enumerate(names):
        number = 101 + i
        services = (GENERAL_PRACTICE, IMMUNIZATION) if i % 2 == 0 else (GENERAL_PRACTICE,)
        out.append(
            _Practitioner(
                id=f"prac-{number}",
                number=number,
                given=given,
                family=family,
                gender=gender,
                clinic=ehr.clinics[i % len(ehr.clinics)],
                services=services,
                specialty=SPECIALTIES[i % len(SPECIALTIES)],
            )
        )
    return out


def _practitioner_resource(ehr: EhrProfile, prac: _Practitioner) -> Resource:
    return {
        "resourceType": "Practitioner",
        "id": prac.id,
        "identifier": [{"system": NPI_SYSTEM, "value": _npi(ehr.npi_base + prac.number)}],
        "active": True,
        "name": [
            {"use": "official", "family": prac.family, "given": [prac.given], "prefix": ["Dr."]}
        ],
        "gender": prac.gender,
    }


def _location(ehr: EhrProfile, clinic: Clinic) -> Resource:
    return {
        "resourceType": "Location",
        "id": clinic.id,
        # The IANA zone the clinic's slots are expressed in (extension from R5, usable in R4).
        "extension": [{"url": TIMEZONE_EXTENSION, "valueCode": clinic.time_zone}],
        "status": "active",
        "name": clinic.name,
        "telecom": [{"system": "phone", "value": clinic.phone, "use": "work"}],
        "address": {
            "use": "work",
            "line": [clinic.line],
            "city": clinic.city,
            "state": clinic.state,
            "postalCode": clinic.postal_code,
            "country": "US",
        },
        "managingOrganization": _ref("Organization", ehr.organization_id),
    }


# --- patients -------------------------------------------------------------------------


def _patient(ehr: EhrProfile, reg: Registration, rng: random.Random) -> Resource:
    person = reg.person
    given = [person.given, *([person.middle] if person.middle else [])]
    names: list[Resource] = [{"use": "official", "family": person.family, "given": given}]
    if person.nickname and rng.random() < 0.6:
        names.append({"use": "usual", "given": [person.nickname]})
    telecom: list[Resource] = []
    if person.phone:
        telecom.append(
            {"system": "phone", "value": _format_phone(rng, person.phone), "use": "home"}
        )
    if person.mobile:
        telecom.append(
            {"system": "phone", "value": _format_phone(rng, person.mobile), "use": "mobile"}
        )
    if person.email:
        telecom.append({"system": "email", "value": person.email, "use": "home"})
    address = person.address
    resource: Resource = {
        "resourceType": "Patient",
        "id": reg.patient_id,
        "identifier": [
            {
                "use": "usual",
                "type": _cc(V2_0203, "MR", "Medical record number"),
                "system": ehr.mrn_system,
                "value": reg.mrn,
            }
        ],
        "active": True,
        "name": names,
        "telecom": telecom,
        "gender": person.gender,
        "birthDate": person.birth_date.isoformat(),
        "address": [
            {
                "use": "home",
                "line": list(address.lines),
                "city": address.city,
                "state": address.state,
                "postalCode": address.postal_code,
                "country": "US",
            }
        ],
        "communication": [
            {
                "language": _cc("urn:ietf:bcp:47", person.language[0], person.language[1]),
                "preferred": True,
            }
        ],
        "managingOrganization": _ref("Organization", ehr.organization_id),
    }
    if not telecom:
        del resource["telecom"]
    return resource


# --- schedules and slots ----------------------------------------------------------------


def _schedule_id(prac: _Practitioner, service: ServiceType) -> str:
    return f"sched-{prac.number}-{service.code}"


def _schedule(prac: _Practitioner, service: ServiceType, first: date, last: date) -> Resource:
    zone = ZoneInfo(prac.clinic.time_zone)
    return {
        "resourceType": "Schedule",
        "id": _schedule_id(prac, service),
        "active": True,
        "serviceType": [_cc(SERVICE_TYPE, service.code, service.display)],
        "specialty": [_cc(SNOMED, *prac.specialty)],
        "actor": [
            _ref("Practitioner", prac.id, prac.display),
            _ref("Location", prac.clinic.id, prac.clinic.name),
        ],
        "planningHorizon": {
            "start": _iso(datetime.combine(first, time(0), zone)),
            "end": _iso(datetime.combine(last + timedelta(days=1), time(0), zone)),
        },
        "comment": f"{service.display} with {prac.display} at {prac.clinic.name}",
    }


@dataclass(frozen=True)
class _SlotPlan:
    id: str
    prac: _Practitioner
    service: ServiceType
    start: datetime
    end: datetime
    busy: bool


SESSIONS = ((time(8, 0), time(12, 0)), (time(13, 0), time(17, 0)))


def _slot_plans(
    pracs: list[_Practitioner], first: date, days: int, rng: random.Random
) -> list[_SlotPlan]:
    plans: list[_SlotPlan] = []
    for prac in pracs:
        zone = ZoneInfo(prac.clinic.time_zone)
        for offset in range(days):
            day = first + timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            for session_start, session_end in SESSIONS:
                if rng.random() < 0.2:  # not in clinic this half-day
                    continue
                weights = [3 if s is GENERAL_PRACTICE else 1 for s in prac.services]
                service = rng.choices(prac.services, weights=weights)[0]
                # Wall-clock times in the clinic's zone; zoneinfo gives the right offset
                # on each side of a DST change.
                moment = datetime.combine(day, session_start, zone)
                stop = datetime.combine(day, session_end, zone)
                while moment < stop:
                    end = moment + timedelta(minutes=service.minutes)
                    plans.append(
                        _SlotPlan(
                            id=f"slot-{prac.number}-{day:%Y%m%d}-{moment:%H%M}",
                            prac=prac,
                            service=service,
                            start=moment,
                            end=end,
                            busy=rng.random() < 0.3,
                        )
                    )
                    moment = end
    return plans


def _slot(plan: _SlotPlan) -> Resource:
    return {
        "resourceType": "Slot",
        "id": plan.id,
        "serviceType": [_cc(SERVICE_TYPE, plan.service.code, plan.service.display)],
        "specialty": [_cc(SNOMED, *plan.prac.specialty)],
        "appointmentType": _cc(V2_0276, "ROUTINE", "Routine appointment"),
        "schedule": _ref("Schedule", _schedule_id(plan.prac, plan.service)),
        "status": "busy" if plan.busy else "free",
        "start": _iso(plan.start),
        "end": _iso(plan.end),
    }


# --- appointments -----------------------------------------------------------------------


def _appointment(
    appointment_id: str,
    status: str,
    prac: _Practitioner,
    service: ServiceType,
    start: datetime,
    end: datetime,
    patient: Registration,
    rng: random.Random,
    slot_id: str | None = None,
) -> Resource:
    kind = rng.choice(APPOINTMENT_TYPES)
    created = start - timedelta(days=rng.randrange(1, 45), hours=rng.randrange(0, 9))
    participant_status = "declined" if status == "cancelled" else "accepted"
    person = patient.person
    resource: Resource = {
        "resourceType": "Appointment",
        "id": appointment_id,
        "status": status,
        "serviceType": [_cc(SERVICE_TYPE, service.code, service.display)],
        "appointmentType": _cc(V2_0276, *kind),
        "description": f"{service.display} visit",
        "start": _iso(start),
        "end": _iso(end),
        "minutesDuration": int((end - start).total_seconds() // 60),
        "created": _iso(created.astimezone(UTC)),
        "participant": [
            {
                "actor": _ref("Patient", patient.patient_id, f"{person.given} {person.family}"),
                "required": "required",
                "status": participant_status,
            },
            {
                "actor": _ref("Practitioner", prac.id, prac.display),
                "required": "required",
                "status": "accepted",
            },
            {
                "actor": _ref("Location", prac.clinic.id, prac.clinic.name),
                "required": "required",
                "status": "accepted",
            },
        ],
    }
    if slot_id is not None:
        resource["slot"] = [_ref("Slot", slot_id)]
    if status == "cancelled":
        resource["cancelationReason"] = _cc(CANCEL_REASON, *rng.choice(CANCEL_REASONS))
    return resource


def _future_appointments(
    plans: list[_SlotPlan], regs: tuple[Registration, ...], rng: random.Random
) -> list[Resource]:
    out = []
    for plan in plans:
        if plan.busy and rng.random() < 0.8:  # the other busy slots are blocked time
            status = "booked"
        elif not plan.busy and rng.random() < 0.06:  # a cancellation freed the slot
            status = "cancelled"
        else:
            continue
        out.append(
            _appointment(
                f"appt-{plan.id.removeprefix('slot-')}",
                status,
                plan.prac,
                plan.service,
                plan.start,
                plan.end,
                rng.choice(regs),
                rng,
                slot_id=plan.id,
            )
        )
    return out


def _past_appointments(
    pracs: list[_Practitioner], regs: tuple[Registration, ...], today: date, rng: random.Random
) -> list[Resource]:
    """Visits of the last 30 days (no Slots: past slots are not seeded)."""
    out = []
    for offset in range(1, 31):
        day = today - timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for prac in rng.sample(pracs, 2):
            zone = ZoneInfo(prac.clinic.time_zone)
            service = rng.choice(prac.services)
            start = datetime.combine(day, time(rng.randrange(8, 16), rng.choice((0, 30))), zone)
            end = start + timedelta(minutes=service.minutes)
            status = "fulfilled" if rng.random() < 0.85 else "cancelled"
            out.append(
                _appointment(
                    f"appt-{prac.number}-{day:%Y%m%d}-{start:%H%M}",
                    status,
                    prac,
                    service,
                    start,
                    end,
                    rng.choice(regs),
                    rng,
                )
            )
    return out


# --- coverage ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Policy:
    payer: Payer
    plan: str
    group: str | None
    group_name: str | None
    member_id: str
    start: date
    end: date | None


def _policy(rng: random.Random, payer: Payer, start: date, end: date | None) -> _Policy:
    plan = rng.choice(payer.plans)
    group: str | None = None
    group_name: str | None = None
    if "Medicaid" not in payer.name:
        group = f"{rng.randrange(10_000, 99_999)}"
        group_name = rng.choice(EMPLOYERS)
    member = f"{payer.member_prefix}{rng.randrange(10**8, 10**9)}"
    return _Policy(payer, plan, group, group_name, member, start, end)


def _person_policies(seed: int, person: Person, today: date) -> tuple[_Policy | None, ...]:
    """(primary, secondary, expired) for one person; the same card in every EHR."""
    rng = random.Random(f"frontdesk-seed:{seed}:insurance:{person.key}")
    if rng.random() < 0.05:  # self-pay
        return (None, None, None)
    payers = list(PAYERS)
    rng.shuffle(payers)
    start = date(today.year - rng.randrange(0, 6), rng.randrange(1, 13), 1)
    start = min(start, today.replace(day=1))
    end = date(today.year, 12, 31) if rng.random() < 0.5 else None
    primary = _policy(rng, payers[0], start, end)
    secondary = _policy(rng, payers[1], start, None) if rng.random() < 0.15 else None
    expired = None
    if rng.random() < 0.15:
        ended = today - timedelta(days=rng.randrange(30, 400))
        expired = _policy(rng, payers[2], ended - timedelta(days=365 * rng.randrange(1, 4)), ended)
    return (primary, secondary, expired)


def _coverage(
    coverage_id: str,
    policy: _Policy,
    beneficiary: Registration,
    *,
    order: int,
    status: str = "active",
    subscriber: Registration | None = None,
    subscriber_member_id: str | None = None,
    relationship: str = "self",
    dependent: str | None = None,
) -> Resource:
    payer = policy.payer
    holder = subscriber or beneficiary
    classes: list[Resource] = []
    if policy.group:
        classes.append(
            {
                "type": _cc(COVERAGE_CLASS, "group", "Group"),
                "value": policy.group,
                "name": policy.group_name,
            }
        )
    classes.append(
        {
            "type": _cc(COVERAGE_CLASS, "plan", "Plan"),
            "value": policy.plan.upper().replace(" ", "-"),
            "name": policy.plan,
        }
    )
    period: Resource = {"start": policy.start.isoformat()}
    if policy.end is not None:
        period["end"] = policy.end.isoformat()
    resource: Resource = {
        "resourceType": "Coverage",
        "id": coverage_id,
        "identifier": [
            {
                "type": _cc(V2_0203, "MB", "Member Number"),
                "system": payer.member_system,
                "value": policy.member_id,
            }
        ],
        "status": status,
        "type": _cc(ACT_CODE, "HIP", "health insurance plan policy"),
        "subscriber": _ref("Patient", holder.patient_id),
        "subscriberId": subscriber_member_id or policy.member_id,
        "beneficiary": _ref("Patient", beneficiary.patient_id),
        "relationship": _cc(RELATIONSHIP, relationship, relationship.capitalize()),
        "period": period,
        "payor": [
            {
                "reference": f"Organization/payer-{payer.payer_id}",
                "identifier": {"system": PAYER_ID_SYSTEM, "value": payer.payer_id},
                "display": payer.name,
            }
        ],
        "class": classes,
        "order": order,
    }
    if dependent is not None:
        resource["dependent"] = dependent
    return resource


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _coverages(
    regs: tuple[Registration, ...], seed: int, today: date, rng: random.Random
) -> list[Resource]:
    out: list[Resource] = []
    policies = {r.patient_id: _person_policies(seed, r.person, today) for r in regs}
    adults = [
        r for r in regs if _age(r.person.birth_date, today) >= 21 and policies[r.patient_id][0]
    ]
    for reg in regs:
        number = reg.patient_id.removeprefix("p-")
        primary, secondary, expired = policies[reg.patient_id]
        # Some people (not shared ones: their cards must agree across EHRs) are covered
        # as a spouse or child on another patient's plan.
        if not reg.shared and primary is not None and rng.random() < 0.12:
            holder = rng.choice([a for a in adults if a.patient_id != reg.patient_id])
            holder_policy = policies[holder.patient_id][0]
            assert holder_policy is not None
            gap = _age(holder.person.birth_date, today) - _age(reg.person.birth_date, today)
            relationship = (
                "child" if gap >= 18 and _age(reg.person.birth_date, today) < 26 else ("spouse")
            )
            dependent = "02" if relationship == "spouse" else f"{rng.randrange(3, 6):02d}"
            as_dependent = _Policy(
                holder_policy.payer,
                holder_policy.plan,
                holder_policy.group,
                holder_policy.group_name,
                holder_policy.member_id[:-2] + dependent,
                max(holder_policy.start, reg.person.birth_date),
                holder_policy.end,
            )
            out.append(
                _coverage(
                    f"cov-{number}-1",
                    as_dependent,
                    reg,
                    order=1,
                    subscriber=holder,
                    subscriber_member_id=holder_policy.member_id,
                    relationship=relationship,
                    dependent=dependent,
                )
            )
        elif primary is not None:
            out.append(_coverage(f"cov-{number}-1", primary, reg, order=1))
        if secondary is not None:
            out.append(_coverage(f"cov-{number}-2", secondary, reg, order=2))
        if expired is not None:
            status = "cancelled" if rng.random() < 0.4 else "active"
            out.append(_coverage(f"cov-{number}-0", expired, reg, order=1, status=status))
    return out


# --- assembly ---------------------------------------------------------------------------


def build_resources(
    profile_name: str, *, seed: int = DEFAULT_SEED, today: date | None = None
) -> list[Resource]:
    """All resources of one EHR, in RESOURCE_ORDER (referenced before referencing)."""
    ehr = profile(profile_name)
    # Default: today where the EHR's clinics are.
    today = today or datetime.now(ZoneInfo(ehr.clinics[0].time_zone)).date()
    rng = random.Random(f"frontdesk-seed:{seed}:{ehr.id}")
    regs = roster(seed).registrations[ehr.id]
    pracs = _practitioners(ehr, rng)
    first = today + timedelta(days=1)
    last = today + timedelta(days=SLOT_WINDOW_DAYS)
    plans = _slot_plans(pracs, first, SLOT_WINDOW_DAYS, rng)
    used_clinics = {p.clinic.id for p in pracs}

    resources: list[Resource] = [
        *_organizations(ehr),
        *(_practitioner_resource(ehr, p) for p in pracs),
        *(_location(ehr, c) for c in ehr.clinics if c.id in used_clinics),
        *(_patient(ehr, reg, rng) for reg in regs),
        *(_schedule(p, s, first, last) for p in pracs for s in p.services),
        *(_slot(plan) for plan in plans),
        *_coverages(regs, seed, today, rng),
        *_future_appointments(plans, regs, rng),
        *_past_appointments(pracs, regs, today, rng),
    ]
    return resources


def _chunks(resources: list[Resource], size: int) -> Iterator[list[Resource]]:
    for start in range(0, len(resources), size):
        yield resources[start : start + size]


def build_bundles(
    profile_name: str,
    *,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
    max_entries: int = MAX_BUNDLE_ENTRIES,
    base_url: str | None = None,
) -> list[Resource]:
    """Transaction Bundles of PUTs (stable ids), to be sent in order.

    R4 wants each entry's ``fullUrl`` absolute: ``{base_url}/Type/id`` on the server
    the Bundle goes to (as the spec's transaction example does). Without ``base_url``
    it is a ``urn:uuid`` derived from profile, type and id, equally stable.
    """
    resources = build_resources(profile_name, seed=seed, today=today)
    base = base_url.rstrip("/") if base_url else None

    def full_url(r: Resource) -> str:
        if base is not None:
            return f"{base}/{r['resourceType']}/{r['id']}"
        name = f"urn:frontdesk:seed:{profile_name}:{r['resourceType']}/{r['id']}"
        return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"

    return [
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": full_url(r),
                    "resource": r,
                    "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
                }
                for r in chunk
            ],
        }
        for chunk in _chunks(resources, max_entries)
    ]
