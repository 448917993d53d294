"""A corruption model for record linkage: two EHRs holding the same people, the second
typed by other desks, with ground truth.

``corrupted_pair(people, seed=)`` makes EHR A (everyone as they are) and EHR B (a share
of the same people registered again with mistakes, plus people only B knows). Each
shared person's B record gets each kind of mistake independently at the rate
``Rates`` states (defaults below, what desks' duplicate audits commonly report as the
usual slips, not a measurement):

| kind              | rate | what happens                                              |
|-------------------|------|-----------------------------------------------------------|
| family-typo       | 0.15 | one keying slip in the family name (keyboard neighbours)  |
| given-typo        | 0.10 | one keying slip in the given name                         |
| swapped-names     | 0.04 | given and family entered the other way round              |
| nickname          | 0.10 | registered under a nickname (Bill for William)            |
| dob-transposed    | 0.03 | day and month swapped (only where both are 12 or less)    |
| dob-mistyped      | 0.05 | one digit of the birth date replaced by a neighbouring key|
| missing-phone     | 0.20 | no phone                                                  |
| missing-sex       | 0.10 | no sex recorded                                           |
| missing-dob       | 0.02 | no birth date                                             |
| moved-address     | 0.15 | another address (they moved)                              |

Everything depends on the seed only. Resources are FHIR R4 Patients; ids are unique
per EHR (``x-a-1``, ``x-b-1``) and say nothing about who is who.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from simulators.seed.people import Person, _person, make_address
from simulators.seed.profiles import EHR_A, EHR_B

__all__ = ["KINDS", "CorruptedPair", "Rates", "corrupted_pair", "keyboard_typo", "patient"]

# QWERTY neighbours: a finger that slips lands on one of these.
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_DIGITS = "1234567890"


def _neighbours() -> dict[str, str]:
    out: dict[str, str] = {}
    for r, row in enumerate(_ROWS):
        for c, ch in enumerate(row):
            near = []
            for dr in (-1, 0, 1):
                rr = r + dr
                if 0 <= rr < len(_ROWS):
                    for dc in (-1, 0, 1):
                        cc = c + dc
                        if (dr, dc) != (0, 0) and 0 <= cc < len(_ROWS[rr]):
                            near.append(_ROWS[rr][cc])
            out[ch] = "".join(near)
    for i, d in enumerate(_DIGITS):
        out[d] = _DIGITS[max(0, i - 1) : i] + _DIGITS[i + 1 : i + 2]
    return out


NEIGHBOURS = _neighbours()

KINDS = (
    "family-typo",
    "given-typo",
    "swapped-names",
    "nickname",
    "dob-transposed",
    "dob-mistyped",
    "missing-phone",
    "missing-sex",
    "missing-dob",
    "moved-address",
)


@dataclass(frozen=True)
class Rates:
    family_typo: float = 0.15
    given_typo: float = 0.10
    swapped_names: float = 0.04
    nickname: float = 0.10
    dob_transposed: float = 0.03
    dob_mistyped: float = 0.05
    missing_phone: float = 0.20
    missing_sex: float = 0.10
    missing_dob: float = 0.02
    moved_address: float = 0.15

    def of(self, kind: str) -> float:
        return float(getattr(self, kind.replace("-", "_")))


def keyboard_typo(rng: random.Random, word: str) -> str:
    """One slip: a neighbouring key instead, an extra neighbouring key, a dropped letter or
    two letters swapped; never the first letter (desks rarely miss it), never a no-op."""
    if len(word) < 3:
        return word + rng.choice(NEIGHBOURS.get(word[-1].lower(), "e") or "e")
    for _ in range(20):
        i = rng.randrange(1, len(word))
        ch = word[i].lower()
        kind = rng.choice(("substitute", "insert", "drop", "swap"))
        if kind == "substitute" and NEIGHBOURS.get(ch):
            out = word[:i] + rng.choice(NEIGHBOURS[ch]) + word[i + 1 :]
        elif kind == "insert" and NEIGHBOURS.get(ch):
            out = word[:i] + rng.choice(NEIGHBOURS[ch]) + word[i:]
        elif kind == "drop" and len(word) > 3:
            out = word[:i] + word[i + 1 :]
        elif kind == "swap" and i + 1 < len(word):
            out = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        else:
            continue
        if out.lower() != word.lower():
            return out
    return word + "e"


@dataclass
class _Record:
    given: str
    middle: str | None
    family: str
    gender: str | None
    birth_date: str | None
    phone: str | None
    address: Any


@dataclass(frozen=True)
class CorruptedPair:
    ehr_a: list[dict[str, Any]]
    ehr_b: list[dict[str, Any]]
    # (EHR A id, EHR B id, the kinds of mistake in the B record)
    same_person: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)


def _mistype_date(rng: random.Random, iso: str) -> str:
    for _ in range(20):
        i = rng.choice((2, 3, 5, 6, 8, 9))
        digit = iso[i]
        out = iso[:i] + rng.choice(NEIGHBOURS[digit]) + iso[i + 1 :]
        try:
            date.fromisoformat(out)
        except ValueError:
            continue
        return out
    return iso


def _corrupt(
    rng: random.Random, person: Person, rates: Rates, nickname_of: dict[str, tuple[str, ...]]
) -> tuple[_Record, tuple[str, ...]]:
    rec = _record(person)
    kinds: list[str] = []
    for kind in KINDS:
        if rng.random() >= rates.of(kind):
            continue
        if kind == "family-typo":
            rec.family = keyboard_typo(rng, rec.family)
        elif kind == "given-typo":
            rec.given = keyboard_typo(rng, rec.given)
        elif kind == "swapped-names":
            rec.given, rec.family = rec.family, rec.given
        elif kind == "nickname":
            nicks = nickname_of.get(person.given, ())
            if not nicks or "swapped-names" in kinds:
                continue
            rec.given = rng.choice(nicks)
        elif kind == "dob-transposed":
            born = person.birth_date
            if rec.birth_date is None or born.day > 12 or born.day == born.month:
                continue
            rec.birth_date = date(born.year, born.day, born.month).isoformat()
        elif kind == "dob-mistyped":
            if rec.birth_date is None:
                continue
            rec.birth_date = _mistype_date(rng, rec.birth_date)
        elif kind == "missing-phone":
            if rec.phone is None:
                continue
            rec.phone = None
        elif kind == "missing-sex":
            rec.gender = None
        elif kind == "missing-dob":
            rec.birth_date = None
        elif kind == "moved-address":
            region = EHR_A if person.home_region == EHR_A.id else EHR_B
            rec.address = make_address(rng, region)
        kinds.append(kind)
    return rec, tuple(kinds)


def _record(person: Person) -> _Record:
    return _Record(
        given=person.given,
        middle=person.middle,
        family=person.family,
        gender=person.gender,
        birth_date=person.birth_date.isoformat(),
        phone=person.phone,
        address=person.address,
    )


def patient(resource_id: str, rec: _Record, *, mrn_system: str) -> dict[str, Any]:
    given = [rec.given, *([rec.middle] if rec.middle else [])]
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": resource_id,
        "identifier": [{"system": mrn_system, "value": resource_id.upper()}],
        "active": True,
        "name": [{"use": "official", "family": rec.family, "given": given}],
    }
    if rec.phone:
        p = rec.phone
        resource["telecom"] = [
            {"system": "phone", "value": f"({p[:3]}) {p[3:6]}-{p[6:]}", "use": "home"}
        ]
    if rec.gender:
        resource["gender"] = rec.gender
    if rec.birth_date:
        resource["birthDate"] = rec.birth_date
    a = rec.address
    resource["address"] = [
        {
            "use": "home",
            "line": list(a.lines),
            "city": a.city,
            "state": a.state,
            "postalCode": a.postal_code,
        }
    ]
    return resource


def corrupted_pair(
    people: int,
    *,
    shared: float = 0.5,
    seed: int = 11,
    rates: Rates = Rates(),
    prefix: str = "x",
) -> CorruptedPair:
    """EHR A with ``people`` people; EHR B with ``shared`` of them registered again with
    mistakes, and as many others only B knows as keep the two EHRs the same size."""
    from simulators.seed.catalog import FEMALE_GIVEN, MALE_GIVEN

    rng = random.Random(f"frontdesk-corruption:{seed}")
    nickname_of = {
        **{k: tuple(v) for k, v in FEMALE_GIVEN.items()},
        **{k: tuple(v) for k, v in MALE_GIVEN.items()},
    }
    region = (EHR_A, EHR_B)
    everyone = [_person(rng, f"{prefix}{i}", region[i % 2]) for i in range(people)]
    others = [_person(rng, f"{prefix}o{i}", region[i % 2]) for i in range(int(people * shared))]
    a_ids = [f"{prefix}-a-{i + 1}" for i in range(people)]
    ehr_a = [
        patient(a_ids[i], _record(p), mrn_system="urn:oid:2.16.840.1.113883.19.5.1")
        for i, p in enumerate(everyone)
    ]
    b_people: list[tuple[_Record, int | None, tuple[str, ...]]] = []
    for i in rng.sample(range(people), int(people * shared)):
        rec, kinds = _corrupt(rng, everyone[i], rates, nickname_of)
        b_people.append((rec, i, kinds))
    b_people += [(_record(p), None, ()) for p in others]
    rng.shuffle(b_people)
    ehr_b: list[dict[str, Any]] = []
    same: list[tuple[str, str, tuple[str, ...]]] = []
    for n, (rec, index, kinds) in enumerate(b_people):
        b_id = f"{prefix}-b-{n + 1}"
        ehr_b.append(patient(b_id, rec, mrn_system="urn:oid:2.16.840.1.113883.19.5.2"))
        if index is not None:
            same.append((a_ids[index], b_id, kinds))
    return CorruptedPair(ehr_a, ehr_b, same)
