"""EligibilityRequest → X12 270 (005010X279A1), built strictly.

Outbound strict: every value is sanitised (uppercased, delimiters and control
characters removed, cut to the element's maximum length) and anything a payer
would reject outright raises ``MappingError`` naming the request field, never
its value.

Loops written: 2000A/2100A payer (HL 20, NM1*PR with PI id), 2000B/2100B
provider (HL 21, NM1*1P with XX NPI), 2000C/2100C subscriber (HL 22: NM1*IL,
REF*6P group, DMG, DTP*291, EQ), and 2000D/2100D dependent (HL 23) when the
patient is a dependent without a member id of their own. TRN and the
eligibility questions (DTP*291, EQ) go on the patient's level.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import UTC, date, datetime

from ..errors import MappingError
from ..model import EligibilityRequest, Person
from ..npi import is_valid_npi
from .tokenizer import Delimiters

__all__ = ["build_270"]

VERSION = "005010X279A1"
_DELIMS = Delimiters(element="*", component=":", repetition="^", segment="~")
# Characters that would break the interchange or that X12's basic/extended sets lack.
_UNSAFE = re.compile(r"[*:^~\x00-\x1f\x7f|<>`{}\[\]\\]")
_SPACES = re.compile(r"\s+")
_SERVICE_TYPE = re.compile(r"[A-Z0-9]{1,2}")
_ID = re.compile(r"[A-Z0-9 .\-]{1,15}")
# DMG03 in a 270 is F or M only (005010X279A1); an unknown gender leaves it out.
_GENDER = {"male": "M", "female": "F"}


def build_270(
    request: EligibilityRequest,
    *,
    sender_id: str = "FRONTDESK",
    receiver_id: str = "CLEARINGHOUSE",
    sender_qualifier: str = "ZZ",
    receiver_qualifier: str = "ZZ",
    usage: str = "T",
    control_number: int | None = None,
    originator_id: str = "9FRONTDESK",
    now: datetime | None = None,
) -> str:
    """One 270 interchange (ISA … IEA, one GS, one ST) for ``request``.

    ``usage`` is ISA15: ``T`` (test, the default, so a mis-configured
    deployment never queries a production payer) or ``P`` (production).
    ``control_number`` (1-999999999) is used for ISA13, GS06 and ST02; when
    omitted a random one comes from ``secrets``, which is unique enough across
    processes and replicas without shared state. ``originator_id`` is TRN03:
    ``1`` + EIN, ``3`` + DUNS or ``9`` + an id of the submitter's choice.
    """
    if usage not in ("T", "P"):
        raise MappingError("usage", "ISA15 must be T or P")
    if control_number is None:
        control_number = secrets.randbelow(999_999_999) + 1
    if not 1 <= control_number <= 999_999_999:
        raise MappingError("control_number", "must be between 1 and 999999999")
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    ctl = f"{control_number:09d}"

    body = _transaction(request, ctl, stamp, originator_id)
    segments = [
        _isa(sender_qualifier, sender_id, receiver_qualifier, receiver_id, stamp, ctl, usage),
        _seg(
            "GS",
            "HS",
            _envelope_id(sender_id, "sender_id"),
            _envelope_id(receiver_id, "receiver_id"),
            stamp.strftime("%Y%m%d"),
            stamp.strftime("%H%M"),
            str(control_number),
            "X",
            VERSION,
        ),
        *body,
        _seg("GE", "1", str(control_number)),
        _seg("IEA", "1", ctl),
    ]
    return "".join(segments)


def _transaction(
    request: EligibilityRequest, ctl: str, stamp: datetime, originator_id: str
) -> list[str]:
    subscriber, dependent = request.subscriber, request.dependent
    _check_subscriber(subscriber, has_dependent=dependent is not None)
    if dependent is not None and not (dependent.last_name and dependent.first_name):
        raise MappingError("EligibilityRequest.dependent", "needs first and last name")
    npi = _clean(request.provider_npi, 10)
    if not is_valid_npi(npi):
        raise MappingError(
            "EligibilityRequest.provider_npi", "must be 10 digits with a valid check digit"
        )
    # NM103 is required for an organisation (NM102=2): payers reject a nameless provider.
    provider_name = _clean(request.provider_name, 60)
    if not provider_name:
        raise MappingError("EligibilityRequest.provider_name", "is required")
    payer_id = _clean(request.payer_id, 80)
    if not payer_id:
        raise MappingError("EligibilityRequest.payer_id", "is required")
    trace = _clean(request.trace_number, 50)
    if not trace:
        raise MappingError("EligibilityRequest.trace_number", "is required")
    originator = _clean(originator_id, 10)
    if len(originator) != 10 or originator[0] not in "139":
        raise MappingError("originator_id", "must be 10 characters starting with 1, 3 or 9")
    service_types = [_clean(s, 3) for s in request.service_types] or ["30"]
    if len(service_types) > 99 or not all(_SERVICE_TYPE.fullmatch(s) for s in service_types):
        raise MappingError("EligibilityRequest.service_types", "must be 1-99 service type codes")
    dos = request.date_of_service.strftime("%Y%m%d")

    # The questions (TRN, DTP*291, EQ) are asked on the patient's level.
    questions = [_seg("DTP", "291", "D8", dos), *(_seg("EQ", s) for s in service_types)]
    trn = _seg("TRN", "1", trace, originator)
    segs = [
        _seg("ST", "270", ctl, VERSION),
        _seg("BHT", "0022", "13", trace, stamp.strftime("%Y%m%d"), stamp.strftime("%H%M")),
        _seg("HL", "1", "", "20", "1"),
        _seg("NM1", "PR", "2", _clean(request.payer_name, 60), "", "", "", "", "PI", payer_id),
        _seg("HL", "2", "1", "21", "1"),
        _seg("NM1", "1P", "2", provider_name, "", "", "", "", "XX", npi),
        _seg("HL", "3", "2", "22", "1" if dependent else "0"),
    ]
    if dependent is None:
        segs.append(trn)
    segs.append(_name("IL", subscriber))
    if request.group_number and (group := _clean(request.group_number, 50)):
        segs.append(_seg("REF", "6P", group))
    segs.extend(_demographics(subscriber, stamp.date()))
    if dependent is None:
        segs.extend(questions)
    else:
        segs.append(_seg("HL", "4", "3", "23", "0"))
        segs.append(trn)
        segs.append(_name("03", dependent))
        segs.extend(_demographics(dependent, stamp.date()))
        segs.extend(questions)
    segs.append(_seg("SE", str(len(segs) + 1), ctl))
    return segs


def _check_subscriber(person: Person, *, has_dependent: bool) -> None:
    member_id = _clean(person.member_id, 80)
    full_name = bool(_clean(person.last_name, 60) and _clean(person.first_name, 35))
    if has_dependent and not member_id:
        raise MappingError("EligibilityRequest.subscriber.member_id", "is required for a dependent")
    if not member_id and not (full_name and person.birth_date):
        raise MappingError(
            "EligibilityRequest.subscriber", "needs a member id, or full name and birth date"
        )


def _name(entity: str, person: Person) -> str:
    member_id = _clean(person.member_id, 80) if entity == "IL" else ""
    return _seg(
        "NM1",
        entity,
        "1",
        _clean(person.last_name, 60),
        _clean(person.first_name, 35),
        "",
        "",
        "",
        "MI" if member_id else "",
        member_id,
    )


def _demographics(person: Person, today: date) -> list[str]:
    if person.birth_date is None:
        return []
    if person.birth_date > today:
        raise MappingError("EligibilityRequest.birth_date", "is in the future")
    gender = _GENDER.get(person.gender or "", "")
    return [_seg("DMG", "D8", person.birth_date.strftime("%Y%m%d"), gender)]


def _isa(
    sender_q: str,
    sender: str,
    receiver_q: str,
    receiver: str,
    stamp: datetime,
    ctl: str,
    usage: str,
) -> str:
    for field, qualifier in (("sender_qualifier", sender_q), ("receiver_qualifier", receiver_q)):
        if not re.fullmatch(r"[A-Z0-9]{2}", qualifier):
            raise MappingError(field, "must be a 2-character ISA id qualifier")
    return _seg(
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        sender_q,
        _envelope_id(sender, "sender_id").ljust(15),
        receiver_q,
        _envelope_id(receiver, "receiver_id").ljust(15),
        stamp.strftime("%y%m%d"),
        stamp.strftime("%H%M"),
        _DELIMS.repetition or "^",
        "00501",
        ctl,
        "0",
        usage,
        _DELIMS.component,
    )


def _envelope_id(value: str, field: str) -> str:
    cleaned = value.strip().upper()
    if not _ID.fullmatch(cleaned):
        raise MappingError(field, "must be 1-15 letters, digits, spaces, dots or dashes")
    return cleaned


def _seg(tag: str, *elements: str) -> str:
    # X12 forbids trailing empty elements: drop them so "NM1*03*1*DOE*AMY" ends cleanly.
    values = list(elements)
    while values and values[-1] == "":
        values.pop()
    return _DELIMS.element.join([tag, *values]) + _DELIMS.segment


def _clean(value: str | None, max_length: int) -> str:
    """Uppercase ASCII with delimiters and control characters removed, cut to ``max_length``."""
    if not value:
        return ""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    text = _SPACES.sub(" ", _UNSAFE.sub(" ", ascii_text)).strip().upper()
    return text[:max_length].rstrip()
