"""The hospital's prices: the CMS machine-readable file (template v2, CSV tall and JSON) and
hand edits in YAML, read into one price book; a broken file names its row and nothing of
it is used."""

from __future__ import annotations

import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.billing_config import BillingConfig, PriceFile, VisitItem, VisitType
from gateway.services.price_file import PriceFileError, read_price_file
from gateway.services.prices import PriceBook, build_price_book
from gateway.settings import ConfigError, PayerConfig

FIXTURES = Path(__file__).parents[2] / "fixtures" / "prices"
CSV = FIXTURES / "general-hospital-standard-charges.csv"
JSON = FIXTURES / "general-hospital-standard-charges.json"
YAML = FIXTURES / "hand-edits.yaml"

PAYERS = [
    PayerConfig(id="acme", name="Acme Health", payer_ids=["ACME01"]),
    PayerConfig(id="sim", name="SIMULATED PAYER", payer_ids=["SIMPAYER"]),
    PayerConfig(id="region", name="Region Health Plans", payer_ids=["RGN"]),
]
OFFICE = VisitItem(code="99213")
NEW_PATIENT = VisitItem(code="99203")
BLOOD = VisitItem(code="36415", units=2)
OBSERVATION = VisitItem(code="0762", code_type="RC")
SHOT = VisitItem(code="G0008", code_type="HCPCS")
# Only the codes of configured visit types are kept from a price file.
EVERYTHING = VisitType(
    id="everything",
    name="Every code the tests price",
    codes=[{"code": "ALL"}],
    items=[
        OFFICE,
        NEW_PATIENT,
        BLOOD,
        OBSERVATION,
        SHOT,
        *(VisitItem(code=c) for c in ("11111", "22222", "99999", "12345")),
    ],
)


def book_of(*files: Path, **billing: object) -> PriceBook:
    config = BillingConfig(
        price_files=[PriceFile(path=f) for f in files],
        # The file lists "Region Health"; the payer is configured as "Region Health Plans".
        payer_names={"region": ["Region Health"]},
        visit_types=[EVERYTHING],
        **billing,
    )
    return build_price_book(config, PAYERS)


@pytest.mark.parametrize("path", [CSV, JSON], ids=["csv-tall", "json"])
def test_a_template_file_gives_gross_cash_and_each_payers_rate(path: Path) -> None:
    book = book_of(path)
    office = book.prices(OFFICE, "outpatient")
    assert office.known and office.description is not None
    assert office.gross.amount == Decimal("250.10")
    assert office.cash.amount == Decimal("150.05")
    assert office.negotiated("acme", "Acme Health", "Acme PPO").amount == Decimal("100.10")
    # The simulated payer is matched by its configured name, case aside.
    assert office.negotiated("sim", "SIMULATED PAYER", None).amount == Decimal("123.45")
    # A percentage of the gross charge: 70.5% of 250.10 = 176.3205, to the cent.
    region = office.negotiated("region", "Region Health", "Region HMO")
    assert region.amount == Decimal("176.32")
    assert region.note is not None and "70.5%" in region.note
    # Units multiply: two venipunctures.
    blood = book.prices(BLOOD, "outpatient")
    assert blood.cash.amount == Decimal("40.00")
    assert blood.negotiated("acme", "Acme Health", None).amount == Decimal("24.70")
    # An algorithm is priced by the hospital's estimated amount, said so.
    shot = book.prices(SHOT, "outpatient").negotiated("region", "Region Health", None)
    assert shot.amount == Decimal("33.00")
    assert shot.note == "the hospital's estimated allowed amount"


@pytest.mark.parametrize("path", [CSV, JSON], ids=["csv-tall", "json"])
def test_what_the_file_cant_say_comes_back_as_a_reason_never_zero(path: Path) -> None:
    book = book_of(path)
    # Two rates for one payer and plan (they depend on what happens in the room).
    observation = book.prices(OBSERVATION, "outpatient").negotiated("acme", "Acme Health", None)
    assert observation.amount is None
    assert observation.reason is not None and "2 different rates" in observation.reason
    # No rate for that payer.
    new = book.prices(NEW_PATIENT, "outpatient").negotiated("sim", "SIMULATED PAYER", None)
    assert new.amount is None
    assert new.reason == ("the price list has no negotiated rate for SIMULATED PAYER for CPT 99203")
    # Not in the list at all; outpatient prices don't answer for an inpatient stay.
    assert not book.prices(VisitItem(code="12345"), "outpatient").known
    assert not book.prices(NEW_PATIENT, "inpatient").known
    assert book.prices(BLOOD, "inpatient").known  # setting "both"


def test_csv_and_json_read_the_same_prices() -> None:
    csv_book, json_book = book_of(CSV), book_of(JSON)
    for item in (OFFICE, NEW_PATIENT, BLOOD, SHOT):
        a, b = csv_book.prices(item, "outpatient"), json_book.prices(item, "outpatient")
        assert (a.gross, a.cash) == (b.gross, b.cash)
        for payer, name in (("acme", "Acme Health"), ("sim", "SIMULATED PAYER")):
            assert a.negotiated(payer, name, None) == b.negotiated(payer, name, None)


def test_only_the_codes_the_gateway_prices_are_kept() -> None:
    contents = read_price_file(PriceFile(path=CSV), frozenset({("CPT", "99213")}))
    assert {c.codes[0] for c in contents.charges} == {("CPT", "99213")}
    assert len(contents.charges) == 3  # one row per payer and plan
    # The second code of a row finds it too.
    contents = read_price_file(PriceFile(path=CSV), frozenset({("RC", "0510")}))
    assert len(contents.charges) == 3
    assert contents.hospital_name == "General Hospital"


def test_hand_edits_in_yaml_win_over_the_file_field_by_field() -> None:
    book = book_of(CSV, YAML)
    office = book.prices(OFFICE, "outpatient")
    assert office.cash.amount == Decimal("140.00")  # edited
    assert office.gross.amount == Decimal("250.10")  # from the file
    assert office.negotiated("acme", "Acme Health", None).amount == Decimal("104.99")
    assert office.negotiated("sim", "SIMULATED PAYER", None).amount == Decimal("123.45")
    only_edited = book.prices(VisitItem(code="99999"), "outpatient")
    assert only_edited.cash.amount == Decimal("55.55")
    # The configuration's own charges come last and win over the YAML file.
    book = book_of(
        CSV,
        YAML,
        charges=[{"code": "99213", "setting": "outpatient", "cash": "139.99"}],
    )
    office = book.prices(OFFICE, "outpatient")
    assert office.cash.amount == Decimal("139.99")
    assert office.negotiated("acme", "Acme Health", None).amount == Decimal("104.99")


def test_amounts_are_read_as_written_never_through_a_float(tmp_path: Path) -> None:
    # 0.1 + 0.2 as floats is 0.30000000000000004; these must come back exact.
    path = tmp_path / "prices.yaml"
    path.write_text(
        "charges:\n"
        "  - code: '11111'\n    gross: 0.10\n    cash: 1.005e2\n"
        "  - code: '22222'\n    gross: 0.20\n    cash: 100.10\n"
    )
    book = book_of(path)
    first = book.prices(VisitItem(code="11111"), "outpatient")
    second = book.prices(VisitItem(code="22222"), "outpatient")
    assert first.gross.amount is not None and second.gross.amount is not None
    assert first.gross.amount + second.gross.amount == Decimal("0.30")
    assert first.cash.amount == Decimal("100.50")
    assert second.cash.amount == Decimal("100.10")


# --- broken files -----------------------------------------------------------------------


def _csv_with(tmp_path: Path, row: str, *, header: str | None = None) -> Path:
    lines = CSV.read_text().splitlines()
    if header is not None:
        lines[2] = header
    lines.insert(4, row)
    path = tmp_path / "broken.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD_ROW = (
    '"Office visit",99213,CPT,,,,outpatient,,,250.10,150.05,Acme Health,Acme PPO,100.10,,,,'
    "fee schedule,100.10,100.10,"
)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (GOOD_ROW.replace("250.10", '"250,10"', 1), "row 5: standard_charge|gross: '250,10'"),
        (GOOD_ROW.replace("250.10", "$250.10", 1), "row 5: standard_charge|gross: '$250.10'"),
        (GOOD_ROW.replace("150.05", "-150.05", 1), "row 5: standard_charge|discounted_cash"),
        (GOOD_ROW.replace("outpatient", "clinic", 1), "row 5: setting: must be inpatient"),
        (GOOD_ROW.replace(",CPT,", ",,", 1), "row 5: code|1: a code and its code type go together"),
        (GOOD_ROW.replace(",CPT,", ",XYZ,", 1), "row 5: code|1|type: 'XYZ'"),
        (GOOD_ROW.replace(",Acme PPO,", ",,", 1), "row 5: payer_name: a negotiated charge needs"),
        (GOOD_ROW.replace("fee schedule", "guesswork", 1), "row 5: standard_charge|methodology"),
        (GOOD_ROW.replace("fee schedule", "other", 1), "row 5: additional_generic_notes"),
        ('"",99213,CPT,,,,outpatient,,,250,,,,,,,,,,,', "row 5: description: empty"),
        ('"Office visit",99213,CPT,,,,outpatient,,,,,,,,,,,,,,', "row 5: no charge"),
        ('"Office visit",,,,,,outpatient,,,250,,,,,,,,,,,', "row 5: code|1: a standard charge"),
        (GOOD_ROW + ",,,extra", "row 5: more values than the header has columns"),
    ],
)
def test_a_broken_csv_row_is_named(tmp_path: Path, row: str, expected: str) -> None:
    path = _csv_with(tmp_path, row)
    with pytest.raises(PriceFileError) as caught:
        read_price_file(PriceFile(path=path))
    assert str(caught.value).startswith("broken.csv: ")
    assert expected in str(caught.value)


def test_broken_csv_headers_are_named(tmp_path: Path) -> None:
    wide = (
        CSV.read_text()
        .splitlines()[2]
        .replace(
            "standard_charge|negotiated_dollar",
            "standard_charge|Acme Health|Acme PPO|negotiated_dollar",
        )
    )
    cases = {
        "row 3: column 'standard_charge|Acme Health|Acme PPO|negotiated_dollar' is the "
        "template's wide layout": wide,
        "row 3: missing column(s) setting": CSV.read_text()
        .splitlines()[2]
        .replace(",setting,", ",place,"),
        "row 3: column payer_name appears twice": CSV.read_text()
        .splitlines()[2]
        .replace("plan_name", "payer_name"),
    }
    for expected, header in cases.items():
        path = _csv_with(tmp_path, GOOD_ROW, header=header)
        with pytest.raises(PriceFileError, match=re.escape(expected)):
            read_price_file(PriceFile(path=path))


def test_a_csv_of_another_template_version_or_without_the_general_rows_is_refused(
    tmp_path: Path,
) -> None:
    lines = CSV.read_text().splitlines()
    v3 = tmp_path / "v3.csv"
    v3.write_text("\n".join([lines[0], lines[1].replace(",2.0.0,", ",3.0.0,"), *lines[2:]]))
    with pytest.raises(PriceFileError, match=r"v3.csv: row 2: version '3.0.0'"):
        read_price_file(PriceFile(path=v3))
    headless = tmp_path / "headless.csv"
    headless.write_text("\n".join(lines[2:]))
    with pytest.raises(PriceFileError, match=r"headless.csv: row 1: the hospital_name column"):
        read_price_file(PriceFile(path=headless))
    no_affirmation = tmp_path / "no-affirmation.csv"
    no_affirmation.write_text("\n".join([lines[0].split(',"To the best')[0], *lines[1:]]))
    with pytest.raises(PriceFileError, match="row 1: the affirmation statement column"):
        read_price_file(PriceFile(path=no_affirmation))


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ('"gross_charge": 250.10', '"gross_charge": -250.10'),
            "standard_charge_information[0].standard_charges[0].gross_charge (CPT 99213): "
            "Input should be greater than 0",
        ),
        (
            ('"gross_charge": 250.10', '"gross_charge": "250.10"'),
            "standard_charge_information[0].standard_charges[0].gross_charge (CPT 99213): "
            "Value error, must be a JSON number",
        ),
        (
            ('"type": "HCPCS"', '"type": "HCPC"'),
            "standard_charge_information[4].code_information[0].type (HCPC G0008): Input should be",
        ),
        (('"setting": "outpatient"', '"setting": "clinic"'), "standard_charges[0].setting"),
        (
            ('"methodology": "fee schedule"', '"methodology": "other"'),
            "payers_information[0] (CPT 99213): Value error, methodology other needs",
        ),
        (('"version": "2.2.0"', '"version": "3.0.0"'), "broken.json: version '3.0.0'"),
        (
            ('"hospital_name": "General Hospital",', ""),
            "broken.json: hospital_name: Field required",
        ),
        (('"affirmation": {', '"affirmations": {'), "broken.json: affirmation: Field required"),
        (("{", "["), "broken.json: not JSON"),
    ],
)
def test_a_broken_json_file_names_the_item(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    path = tmp_path / "broken.json"
    path.write_text(JSON.read_text().replace(*edit, 1))
    with pytest.raises(PriceFileError) as caught:
        read_price_file(PriceFile(path=path))
    assert expected in str(caught.value)


def test_a_broken_yaml_file_names_the_charge(tmp_path: Path) -> None:
    path = tmp_path / "edits.yaml"
    path.write_text("charges:\n  - code: '99213'\n    cash: 12.345\n")
    with pytest.raises(PriceFileError, match=r"edits.yaml: charges\[0\].cash: .*two decimals"):
        read_price_file(PriceFile(path=path))
    path.write_text("charges:\n  - code: '99213'\n    cash: [1\n")
    with pytest.raises(PriceFileError, match=r"edits.yaml: not YAML \(line [0-9]+\)"):
        read_price_file(PriceFile(path=path))


def test_one_broken_file_stops_the_whole_price_book(tmp_path: Path) -> None:
    """Nothing half loaded: a good file before a broken one gives no book at all."""
    broken = _csv_with(tmp_path, GOOD_ROW.replace("250.10", "2 50", 1))
    with pytest.raises(ConfigError, match=r"broken\.csv: row 5"):
        book_of(CSV, broken)
    missing = tmp_path / "gone.csv"
    with pytest.raises(ConfigError, match=r"gone\.csv: can't be read"):
        book_of(JSON, missing)
    odd = tmp_path / "prices.txt"
    shutil.copy(CSV, odd)
    with pytest.raises(ConfigError, match="can't tell its format"):
        book_of(odd)
    # Said which format, it reads.
    config = BillingConfig(
        price_files=[PriceFile(path=odd, format="csv")], visit_types=[EVERYTHING]
    )
    assert build_price_book(config, PAYERS).prices(OFFICE, "outpatient").known


def test_codes_no_visit_type_uses_are_not_kept() -> None:
    book = build_price_book(BillingConfig(price_files=[PriceFile(path=CSV)]), PAYERS)
    assert book.codes == 0
