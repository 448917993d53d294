"""What a hospital configures for money questions at the desk (``tenants[].billing``).

- ``visit_types``: each visit as the EHRs code it (a service type or appointment type
  coding) mapped to the billing codes it is charged under (CPT/HCPCS with units) and the
  X12 service type whose copay and coinsurance the payer reports for it;
- prices: the hospital's CMS machine-readable file(s) of standard charges
  (``price_files``: the v2 template, CSV "tall" or JSON; or a YAML file of ``charges``)
  and ``charges`` here, edited by hand, which win over the files for the same code;
- ``payer_names``: the payer names the price file uses for each configured payer;
- the good-faith-estimate calendar (business days, holidays) and who bills (facility and
  professional: name, NPI, TIN, where).

Amounts are dollars and cents, written as text ("125.40") or numbers; never more than two
decimals. Loading the files is the composition root's job (``services.prices``); a file
that doesn't load stops the start with the file and row named.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from mappers.npi import is_valid_npi

from .services.money import parse_amount

__all__ = [
    "CODE_TYPES",
    "BillingConfig",
    "BillingParty",
    "ChargeEdit",
    "CodeType",
    "Money",
    "NegotiatedEdit",
    "PriceFile",
    "VisitCode",
    "VisitItem",
    "VisitType",
]

# Code types of the CMS hospital price transparency template (v2 data dictionary).
CodeType = Literal[
    "CPT",
    "HCPCS",
    "NDC",
    "RC",
    "ICD",
    "DRG",
    "MS-DRG",
    "R-DRG",
    "S-DRG",
    "APS-DRG",
    "AP-DRG",
    "APR-DRG",
    "APC",
    "LOCAL",
    "EAPG",
    "HIPPS",
    "CDT",
    "CDM",
    "TRIS-DRG",
]
CODE_TYPES: frozenset[str] = frozenset(CodeType.__args__)  # type: ignore[attr-defined]
Setting = Literal["inpatient", "outpatient", "both"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_CODE = r"^[A-Za-z0-9.\-]{1,20}$"


def _amount(value: object) -> object:
    parsed = parse_amount(value)
    if parsed is None:
        raise ValueError("an amount in dollars, e.g. 125.40 (no $ sign, no commas)")
    return parsed


def _dollars_and_cents(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("an amount can't be negative")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValueError("an amount has at most two decimals (cents)")
    return value


Money = Annotated[Decimal, BeforeValidator(_amount), AfterValidator(_dollars_and_cents)]


def _npi(value: str) -> str:
    if not is_valid_npi(value):
        raise ValueError("not an NPI: ten digits, the last the check digit of the first nine")
    return value


Npi = Annotated[str, AfterValidator(_npi)]
# An employer identification number (the TIN a provider or facility bills under).
Tin = Annotated[str, Field(pattern=r"^[0-9]{2}-?[0-9]{7}$")]


def _weekdays() -> list[Weekday]:
    return ["mon", "tue", "wed", "thu", "fri"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VisitCode(_Config):
    """How an EHR codes the visit: a Coding of the appointment's service type or
    appointment type (``system`` None: any system)."""

    code: Annotated[str, Field(min_length=1, max_length=64)]
    system: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class VisitItem(_Config):
    """One billing code the visit is charged under."""

    code: Annotated[str, Field(pattern=_CODE)]
    code_type: CodeType = "CPT"
    units: int = Field(default=1, ge=1, le=99)
    modifiers: tuple[Annotated[str, Field(pattern=r"^[A-Za-z0-9]{2}$")], ...] = ()
    # Whose bill the item is on: a good-faith estimate lists items by provider or facility.
    billed_by: Literal["facility", "professional"] = "facility"


class VisitType(_Config):
    id: Annotated[str, Field(pattern=_ID)]
    name: Annotated[str, Field(min_length=1, max_length=120)]
    codes: list[VisitCode] = Field(min_length=1)
    # The X12 service type the payer reports this visit's copay and coinsurance under
    # (98 office visit, UC urgent care, ...); 30 (the plan) when there is none more exact.
    service_type: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,2}$")] = "30"
    setting: Literal["inpatient", "outpatient"] = "outpatient"
    items: list[VisitItem] = Field(min_length=1, max_length=20)


class NegotiatedEdit(_Config):
    """A negotiated rate edited by hand, for a configured payer (``payers[].id``)."""

    payer: Annotated[str, Field(pattern=_ID)]
    plan: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    amount: Money | None = None
    # A percentage of the gross charge, written as a percent (70.5 is 70.5%).
    percentage: Decimal | None = Field(default=None, gt=0, le=1000)

    @model_validator(mode="after")
    def _one_way(self) -> NegotiatedEdit:
        if (self.amount is None) == (self.percentage is None):
            raise ValueError("give amount or percentage")
        return self


class ChargeEdit(_Config):
    """A standard charge edited by hand: it replaces what the price files say of the same
    code (gross and cash price when given, and each payer's rates given here)."""

    code: Annotated[str, Field(pattern=_CODE)]
    code_type: CodeType = "CPT"
    modifiers: tuple[Annotated[str, Field(pattern=r"^[A-Za-z0-9]{2}$")], ...] = ()
    setting: Setting = "both"
    description: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    gross: Money | None = None
    cash: Money | None = None
    negotiated: list[NegotiatedEdit] = Field(default_factory=list)


class PriceFile(_Config):
    """A file of standard charges: the CMS template v2 (CSV "tall" or JSON), or YAML
    (``charges:`` as in the configuration). ``auto``: by the file's suffix."""

    path: Path
    format: Literal["auto", "csv", "json", "yaml"] = "auto"


class BillingParty(_Config):
    """Who bills: a name, an NPI, the TIN it bills under, and where care is given."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    npi: Npi | None = None
    tin: Tin
    address: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    state: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None


class BillingConfig(_Config):
    visit_types: list[VisitType] = Field(default_factory=list)
    price_files: list[PriceFile] = Field(default_factory=list)
    charges: list[ChargeEdit] = Field(default_factory=list)
    # Configured payer id -> the payer names its rates are listed under in the price file
    # (a payer's own configured name always matches, case aside).
    payer_names: dict[str, list[str]] = Field(default_factory=dict)
    # Good-faith estimates: due in the hospital's business days.
    business_days: list[Weekday] = Field(default_factory=_weekdays, min_length=1)
    holidays: list[date] = Field(default_factory=list)
    facility: BillingParty | None = None
    # The TIN professional services bill under (employed physicians: usually the
    # hospital's or its physician group's); the NPI comes from the EHR's Practitioner.
    professional_tin: Tin | None = None
    # A coverage answer older than this is not used for what to collect at the desk.
    collect_max_age_hours: int = Field(default=72, ge=1, le=24 * 30)

    @model_validator(mode="after")
    def _unique(self) -> BillingConfig:
        ids = [v.id for v in self.visit_types]
        if len(ids) != len(set(ids)):
            raise ValueError("visit type ids must be unique")
        seen: dict[tuple[str | None, str], str] = {}
        for visit in self.visit_types:
            for code in visit.codes:
                key = (code.system, code.code)
                if seen.setdefault(key, visit.id) != visit.id:
                    raise ValueError(
                        f"visit code {code.code!r} is mapped to both {seen[key]!r} and {visit.id!r}"
                    )
        return self

    def check_payers(self, payer_ids: set[str]) -> None:
        """Every payer named here is one of the tenant's configured payers."""
        named = set(self.payer_names) | {n.payer for c in self.charges for n in c.negotiated}
        unknown = sorted(named - payer_ids)
        if unknown:
            raise ValueError(f"billing names payers that are not configured: {', '.join(unknown)}")
