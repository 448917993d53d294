"""Write the 271 (005010X279A1) that answers one 270.

Envelope: the 271 swaps the 270's sender and receiver and reuses its control numbers
(ISA13, GS06, ST02), so a log line of either side finds the other. SE01 counts the
segments from ST to SE; GE01 and IEA01 are 1 (one transaction, one group).

Loops: 2000A/2100A payer (HL 20, NM1*PR), 2000B/2100B provider (HL 21, NM1*1P),
2000C/2100C subscriber (HL 22, TRN*2 echoing the 270's trace, NM1*IL, REF*6P group,
REF*18 plan, DMG, DTP*346/347 plan dates), 2110C benefits (EB with MSG), and
2000D/2100D/2110D when the 270 asked about a dependent. Rejections are AAA segments
in the loop they concern: payer unable to respond (42) in 2100A, unknown member (72),
name (73), birth date (71) or not found (75) in 2100C, dependent not found (67) in 2100D.
Delimiters are * : ^ ~.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from simulators.payer.benefit_lines import BenefitLine, benefit_lines
from simulators.payer.inquiry import Decision, Party
from simulators.payer.members import Member
from simulators.payer.x12_270 import Inquiry

__all__ = ["VERSION", "build_271", "x12_amount"]

VERSION = "005010X279A1"
_GENDER_CODES = {"male": "M", "female": "F"}
_EB01 = {"copay": "B", "coinsurance": "A", "deductible": "C", "out_of_pocket": "G"}
# EB04 insurance type: HMO, Medicaid, Medicare risk, else commercial.
_INSURANCE_TYPES = (("MEDICAID", "MC"), ("MA ", "HN"), ("HMO", "HM"), ("PPO", "PR"), ("EPO", "EP"))


def build_271(inquiry: Inquiry, decision: Decision, *, payer_name: str, now: datetime) -> str:
    body = _transaction(inquiry, decision, payer_name, now)
    segments = [
        _isa(inquiry, now),
        _seg(
            "GS",
            "HB",
            inquiry.group_receiver or inquiry.receiver_id.strip() or "SIMPAYER",
            inquiry.group_sender or inquiry.sender_id.strip() or "SUBMITTER",
            now.strftime("%Y%m%d"),
            now.strftime("%H%M"),
            inquiry.group_control or "1",
            "X",
            VERSION,
        ),
        *body,
        _seg("GE", "1", inquiry.group_control or "1"),
        _seg("IEA", "1", _control(inquiry)),
    ]
    return "".join(segments)


def _transaction(inquiry: Inquiry, decision: Decision, payer_name: str, now: datetime) -> list[str]:
    st02 = inquiry.transaction_control or "0001"
    segs = [
        _seg("ST", "271", st02, VERSION),
        _seg(
            "BHT", "0022", "11", inquiry.reference, now.strftime("%Y%m%d"), now.strftime("%H%M%S")
        ),
    ]
    reject = decision.reject
    payer_reject = reject is not None and reject.loop == "payer"
    # A payer-level rejection answers nothing below the payer: HL 20 has no children.
    segs.append(_seg("HL", "1", "", "20", "0" if payer_reject else "1"))
    segs.append(_seg("NM1", "PR", "2", payer_name, "", "", "", "", "PI", inquiry.payer_id))
    if payer_reject and reject is not None:
        segs.append(_seg("AAA", "Y", "", reject.reason, reject.follow_up))
    else:
        segs.extend(_provider(inquiry))
        segs.extend(_subscriber(inquiry, decision))
    segs.append(_seg("SE", str(len(segs) + 1), st02))
    return segs


def _provider(inquiry: Inquiry) -> list[str]:
    return [
        _seg("HL", "2", "1", "21", "1"),
        _seg(
            "NM1",
            "1P",
            inquiry.provider_entity or "2",
            inquiry.provider_last or inquiry.provider_name,
            inquiry.provider_first if inquiry.provider_entity == "1" else "",
            "",
            "",
            "",
            "XX",
            inquiry.provider_npi,
        ),
    ]


def _subscriber(inquiry: Inquiry, decision: Decision) -> list[str]:
    reject = decision.reject
    dependent_loop = inquiry.dependent is not None
    segs = [_seg("HL", "3", "2", "22", "1" if dependent_loop else "0")]
    segs.extend(_traces(inquiry, "22"))
    subscriber = decision.subscriber
    patient = decision.patient
    if not dependent_loop:
        # The answer is about the patient found (a dependent asked under the card too).
        member = patient or subscriber
        segs.append(_name("IL", inquiry.subscriber, member if patient else None))
        if reject is not None and reject.loop == "subscriber":
            segs.append(_seg("AAA", "Y", "", reject.reason, reject.follow_up))
            segs.extend(_asked_demographics(inquiry.subscriber))
            return segs
        assert patient is not None
        segs.extend(_member_details(patient, group=True))
        segs.extend(_benefits(decision, inquiry))
        return segs
    # The 270 asked about a dependent: subscriber data here, the answer in HL 23.
    if reject is not None and reject.loop == "subscriber":
        segs.append(_name("IL", inquiry.subscriber, None))
        segs.append(_seg("AAA", "Y", "", reject.reason, reject.follow_up))
        return segs
    assert subscriber is not None
    segs.append(_name("IL", inquiry.subscriber, subscriber))
    segs.extend(_member_details(subscriber, group=True, dates=False))
    segs.append(_seg("HL", "4", "3", "23", "0"))
    segs.extend(_traces(inquiry, "23"))
    asked = inquiry.dependent or Party()
    if reject is not None and reject.loop == "dependent":
        segs.append(_seg("NM1", "03", "1", asked.last_name or "", asked.first_name or ""))
        segs.append(_seg("AAA", "Y", "", reject.reason, reject.follow_up))
        segs.extend(_asked_demographics(asked))
        return segs
    assert patient is not None
    segs.append(_seg("NM1", "03", "1", patient.last_name.upper(), patient.first_name.upper()))
    segs.extend(_member_details(patient, group=False))
    segs.extend(_benefits(decision, inquiry))
    return segs


def _traces(inquiry: Inquiry, level: str) -> list[str]:
    traces = [t for t in inquiry.traces if t.level == level]
    return [_seg("TRN", "2", t.number, t.originator) for t in traces]


def _name(entity: str, asked: Party, member: Member | None) -> str:
    if member is None:
        return _seg(
            "NM1",
            entity,
            "1",
            asked.last_name or "",
            asked.first_name or "",
            "",
            "",
            "",
            "MI" if asked.member_id else "",
            asked.member_id or "",
        )
    return _seg(
        "NM1",
        entity,
        "1",
        member.last_name.upper(),
        member.first_name.upper(),
        "",
        "",
        "",
        "MI",
        member.member_id,
    )


def _member_details(member: Member, *, group: bool, dates: bool = True) -> list[str]:
    segs: list[str] = []
    if group and member.group_number:
        segs.append(_seg("REF", "6P", member.group_number, (member.group_name or "").upper()))
    if dates:
        segs.append(_seg("REF", "18", _plan_id(member.plan_name), member.plan_name.upper()))
    if member.birth_date is not None:
        segs.append(
            _seg(
                "DMG",
                "D8",
                member.birth_date.strftime("%Y%m%d"),
                # F or M; any other gender leaves DMG03 out (it is situational).
                _GENDER_CODES.get(member.gender or "", ""),
            )
        )
    if dates:
        segs.append(_seg("DTP", "346", "D8", member.coverage_start.strftime("%Y%m%d")))
        if member.coverage_end is not None:
            segs.append(_seg("DTP", "347", "D8", member.coverage_end.strftime("%Y%m%d")))
    return segs


def _asked_demographics(asked: Party) -> list[str]:
    if asked.birth_date is None:
        return []
    return [_seg("DMG", "D8", asked.birth_date.strftime("%Y%m%d"))]


def _benefits(decision: Decision, inquiry: Inquiry) -> list[str]:
    patient = decision.patient
    assert patient is not None
    service_types = tuple(inquiry.service_types) or ("30",)
    asked = "^".join(dict.fromkeys(service_types))
    if not decision.active:
        return [
            _seg("EB", "6", "", asked),
            _seg("MSG", "COVERAGE NOT IN EFFECT ON THE DATE OF SERVICE"),
        ]
    segs = [
        _seg("EB", "1", "", asked, _insurance_type(patient.plan_name), patient.plan_name.upper()),
        _seg("MSG", "SIMULATED PAYER RESPONSE - TEST DATA ONLY"),
    ]
    for line in benefit_lines(patient, service_types):
        segs.extend(_eb(line))
    return segs


def _eb(line: BenefitLine) -> list[str]:
    network = "Y" if line.in_network else "N"
    auth = "" if line.auth_required is None else ("Y" if line.auth_required else "N")
    code = _EB01[line.kind]

    def eb(period: str, amount: Decimal | None, percent: Decimal | None) -> str:
        return _seg(
            "EB",
            code,
            line.level,
            line.service_type,
            "",
            "",
            period,
            x12_amount(amount) if amount is not None else "",
            x12_amount(percent) if percent is not None else "",
            "",
            "",
            auth,
            network,
        )

    if line.kind == "copay":
        segs = [eb("27", line.amount, None)]
    elif line.kind == "coinsurance":
        # A share of each bill: no time period.
        segs = [eb("", None, line.percent)]
    else:
        segs = [eb("23", line.amount, None)]
        if line.remaining is not None:
            segs.append(eb("29", line.remaining, None))
    if line.message:
        segs.append(_seg("MSG", line.message))
    return segs


def x12_amount(value: Decimal) -> str:
    """An X12 R value: no exponent, no trailing zeros, no leading zero before the point."""
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text.startswith("0."):
        text = text[1:]
    return text or "0"


def _insurance_type(plan_name: str) -> str:
    upper = f"{plan_name.upper()} "
    return next((code for word, code in _INSURANCE_TYPES if word in upper), "C1")


def _plan_id(plan_name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in plan_name.upper())[:50]


def _control(inquiry: Inquiry) -> str:
    value = inquiry.interchange_control
    return value if len(value) == 9 and value.isdigit() else "000000001"


def _isa(inquiry: Inquiry, now: datetime) -> str:
    # Not through _seg: ISA16 is the component separator itself, and ISA06/08 keep padding.
    elements = (
        "00",
        " " * 10,
        "00",
        " " * 10,
        inquiry.receiver_qualifier or "ZZ",
        (inquiry.receiver_id.strip() or "SIMPAYER")[:15].ljust(15),
        inquiry.sender_qualifier or "ZZ",
        (inquiry.sender_id.strip() or "SUBMITTER")[:15].ljust(15),
        now.strftime("%y%m%d"),
        now.strftime("%H%M"),
        "^",
        "00501",
        _control(inquiry),
        "0",
        inquiry.usage if inquiry.usage in ("T", "P") else "T",
        ":",
    )
    return "*".join(("ISA", *elements)) + "~"


def _seg(tag: str, *elements: str) -> str:
    values = [_safe(v) for v in elements]
    # X12 forbids trailing empty elements.
    while values and values[-1] == "":
        values.pop()
    return "*".join([tag, *values]) + "~"


def _safe(value: str) -> str:
    # Values echoed from the 270 must not break this interchange's delimiters.
    return value.translate({ord(c): " " for c in "*:~"}) if value else ""
