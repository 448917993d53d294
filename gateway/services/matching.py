"""Cross-EHR patient matching: which records from different sources are one person.

Grades, from strongest:
- certain: the records share an identifier (same system and value);
- probable: same normalised family name, first given name, full birth date and sex;
- possible: close but not equal — a nickname, a one-letter typo, a transposed or
  one-digit-off birth date, or one differing field. Possible matches are never
  merged: each record stays its own patient, flagged as a possible duplicate.

Pure functions over canonical ``Patient`` records; no I/O.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Literal

from mappers.model import HumanName, Patient

from .nicknames import variants

__all__ = [
    "Grade",
    "MatchGroup",
    "MatchKey",
    "grade_keys",
    "grade_pair",
    "match_key",
    "match_patients",
]

Grade = Literal["certain", "probable", "possible"]


@dataclass
class MatchGroup:
    """One person as seen across sources; ``records[0]`` is the primary record.

    ``evidence`` (record id -> what the match model said of it against the group) and
    ``possible_evidence`` (other group's id -> the same for a possible duplicate) are
    filled when the person index's model scored the records; ``decided`` names records
    joined by a person's "same person" decision."""

    records: list[Patient]
    grades: dict[str, Grade] = field(default_factory=dict)
    possible_duplicates: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    possible_evidence: dict[str, Any] = field(default_factory=dict)
    decided: set[str] = field(default_factory=set)

    @property
    def id(self) -> str:
        return self.records[0].id


def _norm(text: str | None) -> str:
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalpha())


@dataclass(frozen=True)
class MatchKey:
    """What the rules compare of a record, normalised once per record."""

    families: frozenset[str]
    givens: frozenset[str]
    first_given: str
    birth: str
    gender: str
    identifiers: frozenset[tuple[str, str]]


def _names(patient: Patient) -> list[HumanName]:
    return [n for n in ([patient.name] if patient.name else []) + patient.other_names]


def match_key(patient: Patient) -> MatchKey:
    names = _names(patient)
    families = {_norm(n.family) for n in names if n.family}
    givens: set[str] = set()
    for n in names:
        givens.update(_norm(g) for g in n.given[:1] if g)
    first = _norm(patient.name.given[0]) if patient.name and patient.name.given else ""
    return MatchKey(
        families=frozenset(f for f in families if f),
        givens=frozenset(g for g in givens if g),
        first_given=first,
        birth=patient.birth_date or "",
        gender=(patient.gender or "").lower(),
        identifiers=frozenset(
            (i.system, i.value.strip()) for i in patient.identifiers if i.system and i.value
        ),
    )


def _one_edit(a: str, b: str) -> bool:
    """True when a and b differ by one substitution, insertion, deletion or adjacent swap."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1 or min(la, lb) < 3:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if la < lb else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _birth_close(a: str, b: str) -> bool:
    if len(a) != 10 or len(b) != 10:
        return False
    if a == b:
        return True
    # Same year, and day and month transposed (03-07 vs 07-03) or one mistyped digit.
    # A differing year is a different person far more often than a typo (twins aside,
    # namesakes a decade apart are common), so years must agree.
    if a[:4] != b[:4]:
        return False
    if a[5:7] == b[8:10] and a[8:10] == b[5:7]:
        return True
    return sum(x != y for x, y in zip(a[5:], b[5:], strict=True)) == 1


def grade_pair(a: Patient, b: Patient) -> Grade | None:
    return grade_keys(match_key(a), match_key(b))


def grade_keys(ka: MatchKey, kb: MatchKey) -> Grade | None:
    if ka.identifiers & kb.identifiers:
        return "certain"
    same_family = bool(ka.families & kb.families)
    if (
        same_family
        and ka.first_given
        and ka.first_given == kb.first_given
        and len(ka.birth) == 10
        and ka.birth == kb.birth
        and ka.gender
        and ka.gender == kb.gender
    ):
        return "probable"
    family_close = same_family or any(_one_edit(x, y) for x in ka.families for y in kb.families)
    given_close = any(y in variants(x) or _one_edit(x, y) for x in ka.givens for y in kb.givens)
    birth_same = len(ka.birth) == 10 and ka.birth == kb.birth
    birth_close = _birth_close(ka.birth, kb.birth)
    gender_ok = not ka.gender or not kb.gender or ka.gender == kb.gender
    if not gender_ok:
        return None
    # Possible: a strong anchor (full birth date equal, or family exact) plus tolerance elsewhere.
    if birth_same and (family_close or given_close) and (same_family or given_close):
        return "possible"
    if same_family and given_close and birth_close:
        return "possible"
    return None


def match_patients(patients: list[Patient]) -> list[MatchGroup]:
    """Group records of one person across sources; flag possible duplicates.

    Records from the same source are never merged with each other (an EHR's own
    duplicates are its business). Input order decides which record is primary.
    """
    keys = [match_key(p) for p in patients]
    parent = list(range(len(patients)))
    grades: dict[int, Grade] = {}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    possible: list[tuple[int, int]] = []
    for i, j in combinations(range(len(patients)), 2):
        if patients[i].source.source == patients[j].source.source:
            continue
        grade = grade_keys(keys[i], keys[j])
        if grade is None:
            continue
        if grade == "possible":
            possible.append((i, j))
            continue
        ri, rj = find(i), find(j)
        if ri == rj:
            continue
        sources_i = {patients[k].source.source for k in range(len(patients)) if find(k) == ri}
        sources_j = {patients[k].source.source for k in range(len(patients)) if find(k) == rj}
        if sources_i & sources_j:
            continue  # never put two records of one source in one person
        parent[max(ri, rj)] = min(ri, rj)
        for k in (i, j):
            if grades.get(k) != "certain":
                grades[k] = grade

    groups: dict[int, MatchGroup] = {}
    order: list[int] = []
    for idx, patient in enumerate(patients):
        root = find(idx)
        if root not in groups:
            groups[root] = MatchGroup(records=[])
            order.append(root)
        groups[root].records.append(patient)
        if idx in grades:
            groups[root].grades[patient.id] = grades[idx]
    for i, j in possible:
        gi, gj = groups[find(i)], groups[find(j)]
        if gi is gj:
            continue
        if gj.id not in gi.possible_duplicates:
            gi.possible_duplicates.append(gj.id)
        if gi.id not in gj.possible_duplicates:
            gj.possible_duplicates.append(gi.id)
    return [groups[r] for r in order]
