from __future__ import annotations

import pytest

from gateway.sealing import Sealer, derive_key

OLD = ("k-old", derive_key("old secret", purpose="cache"))
NEW = ("k-new", derive_key("new secret", purpose="cache"))


def test_round_trip_hides_the_value() -> None:
    sealer = Sealer([NEW])
    sealed = sealer.seal(b'{"member_id":"MEMBER-00017"}', context="fd:elig:t1:abc")
    assert b"MEMBER-00017" not in sealed
    assert sealer.open(sealed, context="fd:elig:t1:abc") == b'{"member_id":"MEMBER-00017"}'


def test_two_seals_of_one_value_differ() -> None:
    sealer = Sealer([NEW])
    assert sealer.seal(b"x", context="k") != sealer.seal(b"x", context="k")


def test_a_value_copied_under_another_key_does_not_open() -> None:
    sealer = Sealer([NEW])
    sealed = sealer.seal(b"answer", context="fd:elig:t1:member-a")
    assert sealer.open(sealed, context="fd:elig:t1:member-b") is None


@pytest.mark.parametrize("damage", [lambda s: s[:-1], lambda s: s[:-1] + bytes([s[-1] ^ 1])])
def test_tampered_or_truncated_values_read_as_a_miss(damage) -> None:
    sealer = Sealer([NEW])
    assert sealer.open(damage(sealer.seal(b"answer", context="k")), context="k") is None


@pytest.mark.parametrize("raw", [None, b"", b"\x01", b"plain json", b"\x01\x05k-new"])
def test_garbage_reads_as_a_miss(raw: bytes | None) -> None:
    assert Sealer([NEW]).open(raw, context="k") is None


def test_rotation_new_key_seals_old_key_still_opens() -> None:
    before = Sealer([OLD]).seal(b"answer", context="k")
    ring = Sealer([NEW, OLD])
    assert ring.open(before, context="k") == b"answer"
    after = ring.seal(b"answer", context="k")
    assert Sealer([NEW]).open(after, context="k") == b"answer"
    assert Sealer([OLD]).open(after, context="k") is None  # sealed with the new key
    assert Sealer([NEW]).open(before, context="k") is None  # old key dropped: a miss


def test_a_ring_tells_what_its_first_key_sealed() -> None:
    ring = Sealer([NEW, OLD])
    assert ring.is_current(ring.seal(b"answer", context="k"))
    assert not ring.is_current(Sealer([OLD]).seal(b"answer", context="k"))
    assert not ring.is_current(b"") and not ring.is_current(b"plain json")


def test_keys_are_checked() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        Sealer([])
    with pytest.raises(ValueError, match="32 bytes"):
        Sealer([("k", b"short")])
