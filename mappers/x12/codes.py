"""X12 005010X279A1 code lists the 271 mapping needs, with words a PSR can act on.

Names follow the X12 code lists (element 1390 eligibility or benefit information,
1365 service type, 615 time period qualifier, 901 reject reason, 889 follow-up
action). The PSR words say what happened and what to do next; they carry no
patient data, so they are safe anywhere.
"""

from __future__ import annotations

from typing import Final

from ..model import BenefitKind

__all__ = [
    "ACTIVE_CODES",
    "BENEFIT_KINDS",
    "ELIGIBILITY_CODE_NAMES",
    "FOLLOW_UP_ACTIONS",
    "INACTIVE_CODES",
    "REJECT_REASONS",
    "RETRY_LATER_REASONS",
    "SERVICE_TYPES",
    "TIME_PERIODS",
    "benefit_kind",
    "follow_up_words",
    "reject_reason_words",
]

# EB01 1-5 are kinds of active coverage; 6-8 kinds of inactive coverage.
ACTIVE_CODES: Final = frozenset({"1", "2", "3", "4", "5"})
INACTIVE_CODES: Final = frozenset({"6", "7", "8"})

ELIGIBILITY_CODE_NAMES: Final[dict[str, str]] = {
    "1": "Active Coverage",
    "2": "Active - Full Risk Capitation",
    "3": "Active - Services Capitated",
    "4": "Active - Services Capitated to Primary Care Physician",
    "5": "Active - Pending Investigation",
    "6": "Inactive",
    "7": "Inactive - Pending Eligibility Update",
    "8": "Inactive - Pending Investigation",
    "A": "Co-Insurance",
    "B": "Co-Payment",
    "C": "Deductible",
    "CB": "Coverage Basis",
    "D": "Benefit Description",
    "E": "Exclusions",
    "F": "Limitations",
    "G": "Out of Pocket (Stop Loss)",
    "H": "Unlimited",
    "I": "Non-Covered",
    "J": "Cost Containment",
    "K": "Reserve",
    "L": "Primary Care Provider",
    "M": "Pre-existing Condition",
    "MC": "Managed Care Coordinator",
    "N": "Services Restricted to Following Provider",
    "O": "Not Deemed a Medical Necessity",
    "P": "Benefit Disclaimer",
    "Q": "Second Surgical Opinion Required",
    "R": "Other or Additional Payor",
    "S": "Prior Year(s) History",
    "T": "Card(s) Reported Lost/Stolen",
    "U": "Contact Following Entity for Eligibility or Benefit Information",
    "V": "Cannot Process",
    "W": "Other Source of Data",
    "X": "Health Care Facility",
    "Y": "Spend Down",
}

BENEFIT_KINDS: Final[dict[str, BenefitKind]] = {
    **dict.fromkeys(ACTIVE_CODES, "active_coverage"),
    **dict.fromkeys(INACTIVE_CODES, "inactive"),
    "A": "coinsurance",
    "B": "copay",
    "C": "deductible",
    "G": "out_of_pocket",
    "F": "limitation",
    "I": "non_covered",
    # Exclusions are services the plan does not cover, as a PSR sees it.
    "E": "non_covered",
}


def benefit_kind(eb01: str) -> BenefitKind:
    return BENEFIT_KINDS.get(eb01, "other")


# The service types a front desk meets most; unknown codes keep their code only.
SERVICE_TYPES: Final[dict[str, str]] = {
    "1": "Medical Care",
    "2": "Surgical",
    "3": "Consultation",
    "4": "Diagnostic X-Ray",
    "5": "Diagnostic Lab",
    "6": "Radiation Therapy",
    "7": "Anesthesia",
    "8": "Surgical Assistance",
    "12": "Durable Medical Equipment Purchase",
    "18": "Durable Medical Equipment Rental",
    "23": "Diagnostic Dental",
    "30": "Health Benefit Plan Coverage",
    "33": "Chiropractic",
    "35": "Dental Care",
    "40": "Oral Surgery",
    "42": "Home Health Care",
    "45": "Hospice",
    "47": "Hospital",
    "48": "Hospital - Inpatient",
    "50": "Hospital - Outpatient",
    "51": "Hospital - Emergency Accident",
    "52": "Hospital - Emergency Medical",
    "53": "Hospital - Ambulatory Surgical",
    "54": "Long Term Care",
    "56": "Medically Related Transportation",
    "62": "MRI/CAT Scan",
    "65": "Newborn Care",
    "68": "Well Baby Care",
    "73": "Diagnostic Medical",
    "76": "Dialysis",
    "78": "Chemotherapy",
    "80": "Immunizations",
    "81": "Routine Physical",
    "82": "Family Planning",
    "86": "Emergency Services",
    "88": "Pharmacy",
    "93": "Podiatry",
    "98": "Professional (Physician) Visit - Office",
    "99": "Professional (Physician) Visit - Inpatient",
    "A0": "Professional (Physician) Visit - Outpatient",
    "A3": "Professional (Physician) Visit - Home",
    "A4": "Psychiatric",
    "A6": "Psychotherapy",
    "A7": "Psychiatric - Inpatient",
    "A8": "Psychiatric - Outpatient",
    "AD": "Occupational Therapy",
    "AE": "Physical Medicine",
    "AF": "Speech Therapy",
    "AG": "Skilled Nursing Care",
    "AJ": "Alcoholism",
    "AK": "Drug Addiction",
    "AL": "Vision (Optometry)",
    "AM": "Frames",
    "BG": "Cardiac Rehabilitation",
    "BH": "Pediatric",
    "BZ": "Physician Visit - Office: Well",
    "CF": "Mental Health Provider - Outpatient",
    "DM": "Durable Medical Equipment",
    "MH": "Mental Health",
    "PT": "Physical Therapy",
    "UC": "Urgent Care",
}

# EB06; kept as codes on Benefit.time_period, named here for display.
TIME_PERIODS: Final[dict[str, str]] = {
    "6": "Hour",
    "7": "Day",
    "13": "24 Hours",
    "21": "Years",
    "22": "Service Year",
    "23": "Calendar Year",
    "24": "Year to Date",
    "25": "Contract",
    "26": "Episode",
    "27": "Visit",
    "28": "Outlier",
    "29": "Remaining",
    "30": "Exceeded",
    "31": "Not Exceeded",
    "32": "Lifetime",
    "33": "Lifetime Remaining",
    "34": "Month",
    "35": "Week",
    "36": "Admission",
}

_PAYER_DOWN = "payer not answering: try again in a few minutes"

# AAA03: what went wrong and what the PSR should do about it.
REJECT_REASONS: Final[dict[str, str]] = {
    "04": "authorized quantity exceeded: call the payer",
    "15": "required information missing: complete the request and check again",
    "33": "the payer found errors in the request: check the patient and insurance details",
    "35": "provider out of network for this plan: tell the patient before booking",
    "41": "the payer refused access for this provider: call the payer",
    "42": _PAYER_DOWN,
    "43": "provider id not recognised: check the practice NPI set up for this payer",
    "44": "provider name not recognised: check the practice set-up for this payer",
    "45": "provider specialty not accepted: check the practice set-up for this payer",
    "46": "provider phone number missing or invalid: check the practice set-up",
    "47": "provider state missing or invalid: check the practice set-up",
    "48": "referring provider id missing or invalid: check the referral",
    "49": "provider is not the patient's primary care physician: check the PCP on file",
    "50": "provider not allowed to check eligibility with this payer: call the payer",
    "51": "provider not on file with this payer: call the payer",
    "52": "service date outside the provider's enrolment with this plan: call the payer",
    "53": "service type not consistent with the provider type: check the service type",
    "54": "service code type not accepted: check the service type",
    "55": "service code not accepted: check the service type",
    "56": "date not accepted: check the date of service",
    "57": "date of service missing or invalid: check the date of service",
    "58": "birth date missing or invalid: check the birth date",
    "60": "birth date is after the date of service: check both dates",
    "61": "date of death precedes the date of service: check the patient's record",
    "62": "date of service outside the period the payer answers for: check the date",
    "63": "date of service too far in the future: check the date",
    "64": "patient id missing or invalid: check the insurance card",
    "65": "patient name missing or invalid: check the spelling against the card",
    "66": "patient gender missing or invalid: check the patient's record",
    "67": "patient not found: check name and birth date",
    "68": "duplicate patient id: call the payer",
    "69": "service not consistent with the patient's age: check the service type",
    "70": "service not consistent with the patient's gender: check the service type",
    "71": "birth date does not match the payer's records: check the birth date",
    "72": "member id not recognised: check the insurance card",
    "73": "subscriber name not recognised: check the spelling against the card",
    "74": "subscriber gender missing or invalid: check the patient's record",
    "75": "subscriber not found: check name and birth date",
    "76": "duplicate member id: call the payer",
    "77": "subscriber found but not this patient: check the dependent's name and birth date",
    "78": "subscriber not in this group or plan: check the group number on the card",
    "79": "payer or submitter id not recognised: check the payer chosen for this plan",
    "80": _PAYER_DOWN,
    "97": "provider address missing or invalid: check the practice set-up",
    "98": "experimental service or procedure: call the payer",
    "AA": "authorization number not found: check the authorization",
    "AE": "needs primary care physician authorization: get a referral",
    "AF": "diagnosis code missing or invalid: check the diagnosis",
    "AG": "procedure code missing or invalid: check the procedure",
    "AO": "more patient condition information required: call the payer",
    "CI": "certification does not match the patient: check the authorization",
    "E8": "requires medical review: call the payer",
    "IA": "authorization number format invalid: check the authorization",
    "MA": "authorization missing: get an authorization",
    "T4": "payer name or id missing: check the payer chosen for this plan",
}

# AAA04 (element 889).
FOLLOW_UP_ACTIONS: Final[dict[str, str]] = {
    "C": "correct the request and check again",
    "N": "do not check again with the same details",
    "P": "send the same request again",
    "R": "the request may be sent again",
    "S": "do not check again: the payer is asking a third party",
    "W": "wait 30 days before checking again",
    "X": "wait 10 days before checking again",
    "Y": "do not check again: the payer will answer later",
}

# Reasons that mean "the payer side is down", worth a later automatic retry.
RETRY_LATER_REASONS: Final = frozenset({"42", "80"})


def reject_reason_words(code: str) -> str:
    return REJECT_REASONS.get(code, "payer rejected the request: call the payer")


def follow_up_words(code: str) -> str | None:
    return FOLLOW_UP_ACTIONS.get(code) if code else None
