"""Reading a hospital's standard charges: the CMS machine-readable file, template v2.

Two layouts of the CMS hospital price transparency template, version 2 (data dictionary
v2.0-v2.2, github.com/CMSgov/hospital-price-transparency):

- CSV "tall": row 1 the general headers (``hospital_name``, ``last_updated_on``,
  ``version``, ``hospital_location``, ``hospital_address``, ``license_number|[state]``
  and the affirmation statement), row 2 their values, row 3 the data headers
  (``description``, ``code|[i]``, ``code|[i]|type``, ``setting``,
  ``standard_charge|gross``, ``standard_charge|discounted_cash``, ``payer_name``,
  ``plan_name``, ``standard_charge|negotiated_dollar|percentage|algorithm``,
  ``estimated_amount``, ``standard_charge|methodology`` ...), one charge per payer and
  plan from row 4 on. Headers are read case-insensitively, spaces around ``|`` ignored.
  The "wide" layout (one column per payer and plan) is refused with words.
- JSON: ``standard_charge_information[]`` with ``code_information[]`` and
  ``standard_charges[]`` (``setting``, ``gross_charge``, ``discounted_cash``,
  ``payers_information[]``).

Or YAML: ``charges:`` edited by hand, as in the configuration (``ChargeEdit``).

Every row is checked against the template's rules (valid values, positive numbers,
code and code type in pairs, a payer's charge with its payer, plan and methodology, a
methodology ``other`` explained in the notes); the first row that breaks one fails the
whole file with ``PriceFileError`` naming the file, the row and the column, so nothing
is half loaded. Numbers are read as written (``Decimal``), never through a float. Only
the charges of codes the gateway prices (``wanted``) are kept: a hospital's file can
hold millions of rows, checked as they stream past.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from ..billing_config import CODE_TYPES, ChargeEdit, CodeType, PriceFile
from ..settings import ConfigError
from .money import parse_amount

__all__ = [
    "FileCharge",
    "FileRate",
    "PriceFileContents",
    "PriceFileError",
    "read_price_file",
]

_SETTINGS = frozenset({"inpatient", "outpatient", "both"})
_METHODOLOGIES = frozenset(
    {"case rate", "fee schedule", "percent of total billed charges", "per diem", "other"}
)
_POSITIVE = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_AFFIRMATION = "to the best of its knowledge and belief"
_CODE_COLUMN = re.compile(r"^code\|([0-9]+)$")
_WIDE = re.compile(r"^(standard_charge|estimated_amount|additional_payer_notes)\|.+\|")
_DATA_REQUIRED = (
    "description",
    "setting",
    "standard_charge|gross",
    "standard_charge|discounted_cash",
    "payer_name",
    "plan_name",
    "standard_charge|negotiated_dollar",
    "standard_charge|negotiated_percentage",
    "standard_charge|negotiated_algorithm",
    "standard_charge|methodology",
)
_GENERAL_REQUIRED = ("hospital_name", "last_updated_on", "version")


class PriceFileError(ConfigError):
    """A price file that can't be used; the message names the file, row and column."""


@dataclass(frozen=True, slots=True)
class FileRate:
    """A payer-specific negotiated charge as the file states it."""

    payer_name: str
    plan_name: str | None
    dollar: Decimal | None
    percentage: Decimal | None
    algorithm: str | None
    estimated: Decimal | None
    methodology: str | None


@dataclass(frozen=True, slots=True)
class FileCharge:
    """One item's standard charges in one setting, as one row (CSV) or one
    ``standard_charges`` entry (JSON) states them."""

    codes: tuple[tuple[str, str], ...]  # (code type, code)
    modifiers: tuple[str, ...]
    setting: str
    description: str
    gross: Decimal | None
    cash: Decimal | None
    rates: tuple[FileRate, ...]
    origin: str  # "prices.csv row 12": where it was read, for the estimate's words


@dataclass(frozen=True)
class PriceFileContents:
    charges: list[FileCharge]
    edits: list[ChargeEdit]
    hospital_name: str | None = None
    last_updated_on: date | None = None


def read_price_file(
    config: PriceFile, wanted: frozenset[tuple[str, str]] | None = None
) -> PriceFileContents:
    """The file's charges (those of ``wanted`` (code type, code) pairs; all when None)."""
    path = config.path
    kind = config.format
    if kind == "auto":
        suffix = path.suffix.lower()
        kinds: dict[str, Literal["csv", "json", "yaml"]] = {
            ".csv": "csv",
            ".json": "json",
            ".yaml": "yaml",
            ".yml": "yaml",
        }
        if suffix not in kinds:
            raise PriceFileError(
                f"price file {path.name}: can't tell its format from the name; "
                "set format: csv, json or yaml"
            )
        kind = kinds[suffix]
    try:
        if kind == "csv":
            with path.open(newline="", encoding="utf-8-sig") as handle:
                return _read_csv(handle, path.name, wanted)
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PriceFileError(f"price file {path}: can't be read ({type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise PriceFileError(f"price file {path.name}: not UTF-8 text") from None
    if kind == "json":
        return _read_json(text, path.name, wanted)
    return _read_yaml(text, path.name)


# --- CSV "tall" ---------------------------------------------------------------------------


def _header(cell: str) -> str:
    return "|".join(part.strip() for part in cell.strip().lower().split("|"))


def _read_csv(
    handle: Iterable[str], name: str, wanted: frozenset[tuple[str, str]] | None
) -> PriceFileContents:
    rows: Iterator[list[str]] = csv.reader(handle, strict=True)
    try:
        general = next(rows, None)
        values = next(rows, None)
        data = next(rows, None)
        if general is None or values is None or data is None:
            raise PriceFileError(
                f"{name}: a CMS template CSV has the general headers in row 1, their values "
                "in row 2 and the data headers in row 3"
            )
        info = _general(name, general, values)
        columns = _data_columns(name, data)
        charges = [
            charge
            for number, row in enumerate(rows, start=4)
            if (charge := _csv_row(name, number, row, columns)) is not None
            and (wanted is None or any(code in wanted for code in charge.codes))
        ]
    except csv.Error as exc:
        raise PriceFileError(f"{name}: not a readable CSV file ({exc})") from None
    return PriceFileContents(charges, [], info[0], info[1])


def _general(name: str, headers: list[str], values: list[str]) -> tuple[str, date | None]:
    named = [_header(h) for h in headers]
    for required in _GENERAL_REQUIRED:
        if required not in named:
            raise PriceFileError(f"{name}: row 1: the {required} column is missing")
    if not any(h.startswith(_AFFIRMATION) for h in named):
        raise PriceFileError(f"{name}: row 1: the affirmation statement column is missing")
    if any(_WIDE.match(h) for h in named):
        raise PriceFileError(f"{name}: row 1 looks like data headers: is row 1 missing?")
    given = dict(zip(named, [v.strip() for v in values], strict=False))
    version = given.get("version", "")
    if not re.fullmatch(r"2(\.[0-9]+){0,2}", version):
        raise PriceFileError(
            f"{name}: row 2: version {version[:20]!r}: frontdesk reads the CMS template "
            "version 2 (2.0 to 2.2)"
        )
    hospital = given.get("hospital_name", "")
    if not hospital:
        raise PriceFileError(f"{name}: row 2: hospital_name is empty")
    affirmation = next((v.lower() for h, v in given.items() if h.startswith(_AFFIRMATION)), "")
    if affirmation not in ("true", "false"):
        raise PriceFileError(f"{name}: row 2: the affirmation must be true or false")
    return hospital, _date(given.get("last_updated_on", ""))


def _date(text: str) -> date | None:
    # ISO 8601, or M/D/YYYY and MM/DD/YYYY, which the data dictionary also accepts.
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    m = re.fullmatch(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})", text)
    if m is None:
        return None
    try:
        return date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
    except ValueError:
        return None


@dataclass(frozen=True)
class _Columns:
    index: dict[str, int]
    codes: tuple[int, ...]  # the [i] of each code|[i] column

    def width(self) -> int:
        return max(self.index.values()) + 1


def _data_columns(name: str, headers: list[str]) -> _Columns:
    index: dict[str, int] = {}
    for position, raw in enumerate(headers):
        header = _header(raw)
        if not header:
            continue
        if _WIDE.match(header):
            raise PriceFileError(
                f"{name}: row 3: column {raw.strip()[:80]!r} is the template's wide layout; "
                "frontdesk reads the tall layout (one row per payer and plan)"
            )
        if header in index:
            raise PriceFileError(f"{name}: row 3: column {header} appears twice")
        index[header] = position
    missing = [h for h in _DATA_REQUIRED if h not in index]
    if missing:
        raise PriceFileError(f"{name}: row 3: missing column(s) {', '.join(missing)}")
    codes = tuple(
        sorted(int(m.group(1)) for h in index if (m := _CODE_COLUMN.fullmatch(h)) is not None)
    )
    if not codes:
        raise PriceFileError(f"{name}: row 3: no code|1 and code|1|type columns")
    for i in codes:
        if f"code|{i}|type" not in index:
            raise PriceFileError(f"{name}: row 3: code|{i} has no code|{i}|type column")
    return _Columns(index, codes)


class _Row:
    """One data row, read by column name, with errors naming the row."""

    def __init__(self, name: str, number: int, cells: list[str], columns: _Columns) -> None:
        self.where = f"{name}: row {number}"
        self.origin = f"{name} row {number}"
        self.cells = cells
        self.columns = columns

    def fail(self, column: str, reason: str) -> PriceFileError:
        return PriceFileError(f"{self.where}: {column}: {reason}")

    def text(self, column: str) -> str:
        position = self.columns.index.get(column)
        if position is None or position >= len(self.cells):
            return ""
        return self.cells[position].strip()

    def number(self, column: str) -> Decimal | None:
        text = self.text(column)
        if not text:
            return None
        if not _POSITIVE.fullmatch(text) or Decimal(text) <= 0:
            raise self.fail(
                column, f"{text[:20]!r} is not a positive number (digits and a decimal point)"
            )
        return Decimal(text)


def _csv_row(name: str, number: int, cells: list[str], columns: _Columns) -> FileCharge | None:
    if not any(cell.strip() for cell in cells):
        return None
    row = _Row(name, number, cells, columns)
    if len(cells) > columns.width() and any(c.strip() for c in cells[columns.width() :]):
        raise PriceFileError(f"{row.where}: more values than the header has columns")
    description = row.text("description")
    if not description:
        raise row.fail("description", "empty")
    setting = row.text("setting").lower()
    if setting not in _SETTINGS:
        raise row.fail("setting", "must be inpatient, outpatient or both")
    codes: list[tuple[str, str]] = []
    for i in columns.codes:
        code, kind = row.text(f"code|{i}"), row.text(f"code|{i}|type").upper()
        if bool(code) != bool(kind):
            raise row.fail(f"code|{i}", "a code and its code type go together")
        if kind and kind not in CODE_TYPES:
            raise row.fail(f"code|{i}|type", f"{kind[:20]!r} is not a code type of the template")
        if code:
            codes.append((kind, code))
    modifiers = tuple(m.strip().upper() for m in row.text("modifiers").split("|") if m.strip())
    gross, cash = row.number("standard_charge|gross"), row.number("standard_charge|discounted_cash")
    dollar = row.number("standard_charge|negotiated_dollar")
    percentage = row.number("standard_charge|negotiated_percentage")
    algorithm = row.text("standard_charge|negotiated_algorithm") or None
    estimated = row.number("estimated_amount")
    for column in ("standard_charge|min", "standard_charge|max"):
        row.number(column)
    methodology = row.text("standard_charge|methodology").lower() or None
    if methodology is not None and methodology not in _METHODOLOGIES:
        raise row.fail("standard_charge|methodology", "not a methodology of the template")
    if not codes and modifiers:
        # A modifier's own row (the template allows it with only a description and its
        # effect): nothing to price by code.
        return None
    payer, plan = row.text("payer_name"), row.text("plan_name")
    negotiated = dollar is not None or percentage is not None or algorithm is not None
    if negotiated and not (payer and plan and methodology):
        raise row.fail(
            "payer_name", "a negotiated charge needs its payer_name, plan_name and methodology"
        )
    if methodology == "other" and not row.text("additional_generic_notes"):
        raise row.fail("additional_generic_notes", "methodology other must be explained here")
    if not (negotiated or gross is not None or cash is not None):
        raise PriceFileError(
            f"{row.where}: no charge: give standard_charge|gross, "
            "standard_charge|discounted_cash or a negotiated charge"
        )
    if not codes:
        raise row.fail("code|1", "a standard charge needs a code and code type")
    rates: tuple[FileRate, ...] = ()
    if payer:
        rates = (
            FileRate(payer, plan or None, dollar, percentage, algorithm, estimated, methodology),
        )
    return FileCharge(tuple(codes), modifiers, setting, description, gross, cash, rates, row.origin)


# --- JSON ---------------------------------------------------------------------------------


def _json_number(value: object) -> object:
    # The template's numbers are JSON numbers; a string where a number belongs is an error.
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError("must be a JSON number")
    return value


_Positive = Annotated[Decimal, BeforeValidator(_json_number), Field(gt=0)]
_Text = Annotated[str, Field(min_length=1)]


class _Json(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _CodeInfo(_Json):
    code: _Text
    type: CodeType


class _DrugInfo(_Json):
    unit: _Text
    type: Literal["GR", "ML", "ME", "UN", "F2", "GM", "EA"]


class _PayerInfo(_Json):
    payer_name: _Text
    plan_name: _Text
    additional_payer_notes: str | None = None
    standard_charge_dollar: _Positive | None = None
    standard_charge_algorithm: str | None = None
    standard_charge_percentage: _Positive | None = None
    estimated_amount: _Positive | None = None
    methodology: Literal[
        "case rate", "fee schedule", "percent of total billed charges", "per diem", "other"
    ]

    @model_validator(mode="after")
    def _explained(self) -> _PayerInfo:
        if self.methodology == "other" and not self.additional_payer_notes:
            raise ValueError("methodology other needs additional_payer_notes")
        return self


class _StandardCharges(_Json):
    minimum: _Positive | None = None
    maximum: _Positive | None = None
    gross_charge: _Positive | None = None
    discounted_cash: _Positive | None = None
    setting: Literal["inpatient", "outpatient", "both"]
    payers_information: list[_PayerInfo] | None = Field(default=None, min_length=1)
    additional_generic_notes: str | None = None

    @model_validator(mode="after")
    def _some_charge(self) -> _StandardCharges:
        negotiated = any(
            p.standard_charge_dollar is not None
            or p.standard_charge_percentage is not None
            or p.standard_charge_algorithm is not None
            for p in self.payers_information or ()
        )
        if not (negotiated or self.gross_charge is not None or self.discounted_cash is not None):
            raise ValueError(
                "no charge: give gross_charge, discounted_cash or a payer's negotiated charge"
            )
        return self


class _ChargeInfo(_Json):
    description: _Text
    drug_information: _DrugInfo | None = None
    code_information: list[_CodeInfo] = Field(min_length=1)
    standard_charges: list[_StandardCharges] = Field(min_length=1)

    @model_validator(mode="after")
    def _drugs(self) -> _ChargeInfo:
        if any(c.type == "NDC" for c in self.code_information) and self.drug_information is None:
            raise ValueError("an NDC item needs drug_information")
        return self


class _Affirmation(_Json):
    affirmation: _Text
    confirm_affirmation: bool


class _License(_Json):
    license_number: str | None = None
    state: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class _PriceDocument(_Json):
    hospital_name: _Text
    last_updated_on: date
    version: Annotated[str, Field(pattern=r"^2(\.[0-9]+){0,2}$")]
    hospital_location: list[str] = Field(min_length=1)
    hospital_address: list[str] | None = None
    license_information: _License
    affirmation: _Affirmation
    standard_charge_information: list[_ChargeInfo] = Field(min_length=1)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _read_json(
    text: str, name: str, wanted: frozenset[tuple[str, str]] | None
) -> PriceFileContents:
    try:
        raw: Any = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise PriceFileError(f"{name}: not JSON (line {exc.lineno}, column {exc.colno})") from None
    if isinstance(raw, dict) and isinstance(raw.get("version"), str):
        version = raw["version"]
        if not re.fullmatch(r"2(\.[0-9]+){0,2}", version):
            raise PriceFileError(
                f"{name}: version {version[:20]!r}: frontdesk reads the CMS template version 2"
            )
    try:
        document = _PriceDocument.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        where = _path(first["loc"]) or "(the document)"
        item = _item_named(raw, first["loc"])
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise PriceFileError(f"{name}: {where}{item}: {first['msg']}{more}") from None
    charges: list[FileCharge] = []
    for i, info in enumerate(document.standard_charge_information):
        codes = tuple((c.type, c.code.strip()) for c in info.code_information)
        if wanted is not None and not any(code in wanted for code in codes):
            continue
        for j, standard in enumerate(info.standard_charges):
            rates = tuple(
                FileRate(
                    p.payer_name.strip(),
                    p.plan_name.strip(),
                    p.standard_charge_dollar,
                    p.standard_charge_percentage,
                    p.standard_charge_algorithm or None,
                    p.estimated_amount,
                    p.methodology,
                )
                for p in standard.payers_information or ()
            )
            charges.append(
                FileCharge(
                    codes,
                    (),
                    standard.setting,
                    info.description,
                    standard.gross_charge,
                    standard.discounted_cash,
                    rates,
                    f"{name} standard_charge_information[{i}].standard_charges[{j}]",
                )
            )
    return PriceFileContents(charges, [], document.hospital_name, document.last_updated_on)


def _item_named(raw: Any, loc: tuple[int | str, ...]) -> str:
    """`` (CPT 99213)``: the item an error is in, named by its first code."""
    if len(loc) < 2 or loc[0] != "standard_charge_information" or not isinstance(loc[1], int):
        return ""
    try:
        first = raw["standard_charge_information"][loc[1]]["code_information"][0]
        return f" ({str(first['type'])[:10]} {str(first['code'])[:20]})"
    except (KeyError, IndexError, TypeError):
        return ""


# --- YAML ---------------------------------------------------------------------------------


class _DecimalLoader(yaml.SafeLoader):
    """YAML with its floats read as the decimals they were written as."""


def _decimal_float(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    value = loader.construct_scalar(node)  # type: ignore[arg-type]
    amount = parse_amount(str(value).replace("_", ""))
    if amount is None:
        raise yaml.constructor.ConstructorError(None, None, "not a number", node.start_mark)
    return amount


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal_float)


class _YamlPrices(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    charges: list[ChargeEdit] = Field(min_length=1)


def _read_yaml(text: str, name: str) -> PriceFileContents:
    try:
        # A SafeLoader subclass: plain data only.
        raw = yaml.load(text, Loader=_DecimalLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise PriceFileError(f"{name}: not YAML{line}") from None
    try:
        prices = _YamlPrices.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        raise PriceFileError(f"{name}: {_path(first['loc'])}: {first['msg']}") from None
    return PriceFileContents([], list(prices.charges))
