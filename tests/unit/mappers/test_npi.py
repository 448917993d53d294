from __future__ import annotations

import pytest

from mappers.npi import is_valid_npi, npi_check_digit


@pytest.mark.parametrize("npi", ["1234567893", "1245319599", "1003000126"])
def test_known_valid_npis(npi: str) -> None:
    assert is_valid_npi(npi)
    assert npi_check_digit(npi[:9]) == npi[9]


@pytest.mark.parametrize(
    "npi",
    ["1234567890", "123456789", "12345678931", "3234567893", "12345678a3", "", "\uff11234567893"],
)
def test_invalid_npis(npi: str) -> None:
    assert not is_valid_npi(npi)


def test_every_wrong_check_digit_is_refused() -> None:
    good = "1234567893"
    for digit in "0123456789":
        if digit != good[-1]:
            assert not is_valid_npi(good[:9] + digit)


def test_check_digit_needs_nine_digits() -> None:
    with pytest.raises(ValueError, match="nine digits"):
        npi_check_digit("12345678")
