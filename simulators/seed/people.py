"""Who is registered where: the synthetic people of both EHRs and the ground truth.

Everything here depends on the seed only (not on the reference date), so the ground
truth of who is the same person does not change from day to day.

- 160 people only in EHR A, 160 only in EHR B, 40 in both (200 patients per EHR).
- A shared person's EHR A record carries the demographics as they are; the EHR B record
  differs realistically (``DIFFERENCE_KINDS``): registered under a nickname, no phone, an
  address from after a move, a typo in the name, sometimes the middle name left out.
- Decoys: a few EHR B people carry the name of an EHR A person but are someone else
  (another birth date and address), to catch matchers that go by name alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache

from simulators.seed.catalog import (
    EMAIL_DOMAINS,
    FAMILY,
    FEMALE_GIVEN,
    FEMALE_MIDDLE,
    LANGUAGES,
    MALE_GIVEN,
    MALE_MIDDLE,
    STREET_NAMES,
    STREET_SUFFIXES,
    UNIT_FORMATS,
)
from simulators.seed.profiles import EHR_A, EHR_B, EhrProfile

DEFAULT_SEED = 7
PATIENTS_PER_EHR = 200
SHARED_PEOPLE = 40
DECOYS = 6
FIRST_PATIENT_NUMBER = 1001

DIFFERENCE_KINDS = ("nickname", "missing-phone", "moved-address", "name-typo")
SECOND_DIFFERENCE_KINDS = (*DIFFERENCE_KINDS, "middle-name-dropped")


@dataclass(frozen=True)
class Address:
    lines: tuple[str, ...]
    city: str
    state: str
    postal_code: str


@dataclass(frozen=True)
class Person:
    """One human being as an EHR has them registered."""

    key: str  # stable across EHRs; never sent to a server
    given: str  # the first given name as registered
    middle: str | None
    family: str
    nickname: str | None  # what they like to be called, when it differs from `given`
    gender: str
    birth_date: date
    phone: str | None  # ten digits; formatted per record by the generator
    mobile: str | None
    email: str | None
    address: Address
    language: tuple[str, str]  # BCP-47 code, display
    home_region: str  # the EHR profile whose area they live in


@dataclass(frozen=True)
class Registration:
    """A Person registered in one EHR under that EHR's patient id and MRN."""

    patient_id: str
    mrn: str
    person: Person
    shared: bool


@dataclass(frozen=True)
class SamePerson:
    ehr_a: str
    ehr_b: str
    differences: tuple[str, ...]


@dataclass(frozen=True)
class Roster:
    registrations: dict[str, tuple[Registration, ...]]
    same_person: tuple[SamePerson, ...]
    decoys: tuple[tuple[str, str], ...]  # (EHR A id, EHR B id) with one name, two people


def _names_for(gender: str) -> dict[str, tuple[str, ...]]:
    return MALE_GIVEN if gender == "male" else FEMALE_GIVEN


def _birth_date(rng: random.Random) -> date:
    # Fixed range (not relative to today) so people don't change with the reference date.
    start = date(1936, 1, 1)
    return start + timedelta(days=rng.randrange((date(2021, 12, 31) - start).days))


def _phone(rng: random.Random, area_codes: tuple[str, ...]) -> str:
    # 555 exchange: recognisably fictional.
    return f"{rng.choice(area_codes)}555{rng.randrange(10_000):04d}"


def make_address(rng: random.Random, region: EhrProfile) -> Address:
    city = rng.choice(region.cities)
    street = f"{rng.randrange(1, 9999)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_SUFFIXES)}"
    lines: tuple[str, ...] = (street,)
    if rng.random() < 0.25:
        unit = f"{rng.randrange(1, 40)}{rng.choice(('', '', 'A', 'B', 'R'))}"
        lines = (street, rng.choice(UNIT_FORMATS).format(n=unit))
    return Address(lines, city.name, city.state, rng.choice(city.postal_codes))


def _weighted_language(rng: random.Random) -> tuple[str, str]:
    code, display, _ = rng.choices(LANGUAGES, weights=[w for *_, w in LANGUAGES])[0]
    return code, display


def _person(
    rng: random.Random, key: str, region: EhrProfile, *, needs_nickname: bool = False
) -> Person:
    gender = "female" if rng.random() < 0.52 else "male"
    names = _names_for(gender)
    pool = [g for g, nicks in names.items() if nicks] if needs_nickname else list(names)
    given = rng.choice(pool)
    nicks = names[given]
    nickname = rng.choice(nicks) if nicks and (needs_nickname or rng.random() < 0.4) else None
    middles = MALE_MIDDLE if gender == "male" else FEMALE_MIDDLE
    middle = rng.choice(middles) if rng.random() < 0.65 else None
    family = rng.choice(FAMILY)
    phone = _phone(rng, region.area_codes) if rng.random() < 0.93 else None
    mobile = _phone(rng, region.area_codes) if rng.random() < 0.3 else None
    email = None
    if rng.random() < 0.35:
        local = f"{(nickname or given).lower()}.{family.lower()}".replace(" ", "").replace("'", "")
        email = f"{local}{rng.randrange(1, 99)}@{rng.choice(EMAIL_DOMAINS)}"
    return Person(
        key=key,
        given=given,
        middle=middle,
        family=family,
        nickname=nickname,
        gender=gender,
        birth_date=_birth_date(rng),
        phone=phone,
        mobile=mobile,
        email=email,
        address=make_address(rng, region),
        language=_weighted_language(rng),
        home_region=region.id,
    )


def typo(rng: random.Random, word: str) -> str:
    """One keying slip: swapped, dropped, doubled or substituted letter; never a no-op."""
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    for _ in range(20):
        kind = rng.choice(("swap", "drop", "double", "substitute"))
        i = rng.choice(letters[1:] or letters)
        if kind == "swap" and i + 1 < len(word) and word[i + 1].isalpha():
            out = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        elif kind == "drop" and len(letters) > 3:
            out = word[:i] + word[i + 1 :]
        elif kind == "double":
            out = word[: i + 1] + word[i] + word[i + 1 :]
        else:
            near = "aeiou" if word[i].lower() in "aeiou" else "nmrtsl"
            repl = rng.choice([c for c in near if c != word[i].lower()])
            out = word[:i] + repl + word[i + 1 :]
        if out != word:
            return out
    return word + "e"


def _differ(rng: random.Random, person: Person, kinds: tuple[str, ...]) -> Person:
    """The EHR B registration of a shared person: `person` with the given differences."""
    changed = person
    for kind in kinds:
        if kind == "nickname":
            assert person.nickname is not None
            changed = replace(changed, given=person.nickname, nickname=None)
        elif kind == "missing-phone":
            changed = replace(changed, phone=None, mobile=None)
        elif kind == "moved-address":
            region = EHR_A if person.home_region == EHR_A.id else EHR_B
            moved = make_address(rng, region)
            while moved.lines[0] == person.address.lines[0]:
                moved = make_address(rng, region)
            changed = replace(changed, address=moved)
        elif kind == "name-typo":
            if rng.random() < 0.7:
                changed = replace(changed, family=typo(rng, changed.family))
            else:
                changed = replace(changed, given=typo(rng, changed.given))
        elif kind == "middle-name-dropped":
            changed = replace(changed, middle=None)
    return changed


def _identity(p: Person) -> tuple[str, str, date]:
    return (p.given, p.family, p.birth_date)


@cache
def roster(seed: int = DEFAULT_SEED) -> Roster:
    """Everyone in both EHRs for this seed, with their patient ids and MRNs."""
    rng = random.Random(f"frontdesk-seed:{seed}:people")
    seen: set[tuple[str, str, date]] = set()

    def fresh(key: str, region: EhrProfile, *, needs_nickname: bool = False) -> Person:
        while True:
            p = _person(rng, key, region, needs_nickname=needs_nickname)
            if _identity(p) not in seen:
                seen.add(_identity(p))
                return p

    shared: list[tuple[Person, Person, tuple[str, ...]]] = []
    for i in range(SHARED_PEOPLE):
        primary = DIFFERENCE_KINDS[i % len(DIFFERENCE_KINDS)]
        region = EHR_A if i % 2 == 0 else EHR_B
        person = fresh(f"s{i:03d}", region, needs_nickname=primary == "nickname")
        kinds = [primary]
        if rng.random() < 0.35:
            extra = [k for k in SECOND_DIFFERENCE_KINDS if k != primary]
            if person.middle is None:
                extra.remove("middle-name-dropped")
            if person.nickname is None and "nickname" in extra:
                extra.remove("nickname")
            if person.phone is None and person.mobile is None:
                extra.remove("missing-phone")
            kinds.append(rng.choice(extra))
        if primary == "missing-phone" and person.phone is None:
            person = replace(person, phone=_phone(rng, region.area_codes))
        shared.append((person, _differ(rng, person, tuple(kinds)), tuple(kinds)))

    only_a = [fresh(f"a{i:03d}", EHR_A) for i in range(PATIENTS_PER_EHR - SHARED_PEOPLE)]
    only_b = [fresh(f"b{i:03d}", EHR_B) for i in range(PATIENTS_PER_EHR - SHARED_PEOPLE)]
    # Decoys: same given and family name as an EHR A-only person, someone else entirely.
    decoy_sources = rng.sample(range(len(only_a)), DECOYS)
    for slot, source in enumerate(decoy_sources):
        twin = only_a[source]
        other = only_b[slot]
        birth = _shift_years(twin.birth_date, rng.choice((-9, -4, 3, 7)))
        only_b[slot] = replace(
            other, given=twin.given, family=twin.family, gender=twin.gender, birth_date=birth
        )

    people_a = [("shared", n) for n in range(SHARED_PEOPLE)] + [
        ("a", n) for n in range(len(only_a))
    ]
    people_b = [("shared", n) for n in range(SHARED_PEOPLE)] + [
        ("b", n) for n in range(len(only_b))
    ]
    rng.shuffle(people_a)
    rng.shuffle(people_b)
    _separate_shared_ids(people_a, people_b)

    def register(profile: EhrProfile, order: list[tuple[str, int]]) -> tuple[Registration, ...]:
        out = []
        mrn_numbers = rng.sample(range(10_000, 999_999), len(order))
        for index, (group, n) in enumerate(order):
            if group == "shared":
                person = shared[n][0] if profile is EHR_A else shared[n][1]
            else:
                person = (only_a if group == "a" else only_b)[n]
            out.append(
                Registration(
                    patient_id=f"p-{FIRST_PATIENT_NUMBER + index}",
                    mrn=profile.mrn_format.format(n=mrn_numbers[index]),
                    person=person,
                    shared=group == "shared",
                )
            )
        return tuple(out)

    regs_a = register(EHR_A, people_a)
    regs_b = register(EHR_B, people_b)
    index_a = {key: i for i, key in enumerate(people_a)}
    index_b = {key: i for i, key in enumerate(people_b)}
    same = tuple(
        sorted(
            (
                SamePerson(
                    regs_a[index_a[("shared", n)]].patient_id,
                    regs_b[index_b[("shared", n)]].patient_id,
                    shared[n][2],
                )
                for n in range(SHARED_PEOPLE)
            ),
            key=lambda s: _number(s.ehr_a),
        )
    )
    decoys = tuple(
        sorted(
            (
                (regs_a[index_a[("a", source)]].patient_id, regs_b[index_b[("b", slot)]].patient_id)
                for slot, source in enumerate(decoy_sources)
            ),
            key=lambda pair: _number(pair[0]),
        )
    )
    return Roster({EHR_A.id: regs_a, EHR_B.id: regs_b}, same, decoys)


def _shift_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a non-leap year
        return day.replace(year=day.year + years, day=28)


def _number(patient_id: str) -> int:
    return int(patient_id.removeprefix("p-"))


def _separate_shared_ids(order_a: list[tuple[str, int]], order_b: list[tuple[str, int]]) -> None:
    """Make sure no shared person gets the same patient id in both EHRs.

    Otherwise a matcher could "match" on the upstream id; the id is per EHR, not per person.
    """
    for i in range(len(order_b)):
        if order_b[i][0] == "shared" and order_a[i] == order_b[i]:
            j = (i + 1) % len(order_b)
            while order_a[j] == order_b[i] or order_a[i] == order_b[j]:
                j = (j + 1) % len(order_b)
            order_b[i], order_b[j] = order_b[j], order_b[i]
