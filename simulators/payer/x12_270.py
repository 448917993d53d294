"""Read an incoming X12 270 (005010X279A1) into what the simulator needs to answer it.

Segments come from `mappers.x12.tokenizer` (the delimiters the ISA declares). This
reader is lenient about what it does not need and refuses, with `InquiryError`,
only what leaves nothing to answer: no ISA/GS/ST envelope, not a 270, no payer or
no subscriber loop. Error texts name segments, never their values (no PHI).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from mappers.errors import MappingError
from mappers.x12.tokenizer import Segment, tokenize
from simulators.payer.inquiry import Party, Query

__all__ = ["Inquiry", "InquiryError", "Trace", "read_270"]

_GENDERS = {"M": "male", "F": "female", "U": "unknown"}


class InquiryError(ValueError):
    """The body is not a 270 the simulator can answer."""


@dataclass(frozen=True, slots=True)
class Trace:
    """A TRN of the 270: echoed in the 271 as TRN*2 on the same level."""

    number: str
    originator: str
    level: str  # "22" subscriber or "23" dependent


@dataclass(slots=True)
class Inquiry:
    sender_qualifier: str = "ZZ"
    sender_id: str = ""
    receiver_qualifier: str = "ZZ"
    receiver_id: str = ""
    usage: str = "T"
    interchange_control: str = ""
    group_sender: str = ""
    group_receiver: str = ""
    group_control: str = ""
    transaction_control: str = ""
    reference: str = ""  # BHT03
    payer_id: str = ""
    payer_name: str = ""
    provider_npi: str = ""
    provider_name: str = ""
    provider_entity: str = "2"
    provider_last: str = ""
    provider_first: str = ""
    subscriber: Party = field(default_factory=Party)
    dependent: Party | None = None
    group_number: str | None = None
    date_of_service: date | None = None
    service_types: list[str] = field(default_factory=list)
    traces: list[Trace] = field(default_factory=list)

    def query(self, today: date) -> Query:
        return Query(
            payer_id=self.payer_id,
            subscriber=self.subscriber,
            dependent=self.dependent,
            date_of_service=self.date_of_service or today,
            service_types=tuple(self.service_types) or ("30",),
        )


def read_270(raw: str) -> Inquiry:
    try:
        segments, _ = tokenize(raw)
    except MappingError as exc:
        raise InquiryError(f"not an X12 interchange: {exc.path}") from None
    tags = [s.tag for s in segments]
    for needed in ("ISA", "GS", "ST"):
        if needed not in tags:
            raise InquiryError(f"no {needed} segment")
    inquiry = Inquiry()
    level = ""
    for seg in segments:
        if seg.tag == "HL":
            level = seg.get(3)
            if level == "23":
                inquiry.dependent = Party()
            continue
        _read(inquiry, seg, level)
    if not inquiry.payer_id:
        raise InquiryError("no 2100A payer NM1*PR with an id")
    if not (inquiry.subscriber.member_id or inquiry.subscriber.last_name):
        raise InquiryError("no 2100C subscriber NM1*IL")
    return inquiry


def _read(inquiry: Inquiry, seg: Segment, level: str) -> None:
    tag = seg.tag
    if tag == "ISA":
        inquiry.sender_qualifier, inquiry.sender_id = seg.get(5), seg.get(6)
        inquiry.receiver_qualifier, inquiry.receiver_id = seg.get(7), seg.get(8)
        inquiry.interchange_control, inquiry.usage = seg.get(13), seg.get(15) or "T"
    elif tag == "GS":
        inquiry.group_sender, inquiry.group_receiver = seg.get(2), seg.get(3)
        inquiry.group_control = seg.get(6)
    elif tag == "ST":
        if seg.get(1) != "270":
            raise InquiryError(f"{seg.path}: ST01 is not 270")
        inquiry.transaction_control = seg.get(2)
    elif tag == "BHT":
        inquiry.reference = seg.get(3)
    elif tag == "NM1":
        _read_name(inquiry, seg, level)
    elif tag == "TRN" and level in ("22", "23") and seg.get(2):
        inquiry.traces.append(Trace(seg.get(2), seg.get(3), level))
    elif tag == "REF" and level == "22" and seg.get(1) == "6P":
        inquiry.group_number = seg.get(2) or None
    elif tag == "DMG" and level in ("22", "23"):
        _set_party(
            inquiry,
            level,
            birth_date=_date(seg.get(2)) if seg.get(1) == "D8" else None,
            gender=_GENDERS.get(seg.get(3)),
        )
    elif tag == "DTP" and seg.get(1) == "291":
        value = seg.get(3)
        # RD8 is a range: the first day is the date of service asked about.
        inquiry.date_of_service = _date(value.split("-")[0]) or inquiry.date_of_service
    elif tag == "EQ" and seg.get(1):
        inquiry.service_types.extend(seg.repeats(1))


def _read_name(inquiry: Inquiry, seg: Segment, level: str) -> None:
    entity = seg.get(1)
    if entity == "PR":
        inquiry.payer_name, inquiry.payer_id = seg.get(3), seg.get(9)
    elif entity == "1P":
        inquiry.provider_entity = seg.get(2) or "2"
        inquiry.provider_name = seg.get(3)
        inquiry.provider_last, inquiry.provider_first = seg.get(3), seg.get(4)
        inquiry.provider_npi = seg.get(9)
    elif entity == "IL" and level == "22":
        _set_party(
            inquiry,
            "22",
            last_name=seg.get(3) or None,
            first_name=seg.get(4) or None,
            member_id=seg.get(9) if seg.get(8) in ("MI", "II") and seg.get(9) else None,
        )
    elif entity == "03" and level == "23":
        _set_party(inquiry, "23", last_name=seg.get(3) or None, first_name=seg.get(4) or None)


def _set_party(inquiry: Inquiry, level: str, **values: object) -> None:
    present = {k: v for k, v in values.items() if v is not None}
    if level == "22":
        inquiry.subscriber = replace(inquiry.subscriber, **present)  # type: ignore[arg-type]
    elif level == "23" and inquiry.dependent is not None:
        inquiry.dependent = replace(inquiry.dependent, **present)  # type: ignore[arg-type]


def _date(value: str) -> date | None:
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None
