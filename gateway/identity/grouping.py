"""Grouping records into people with the match model, and people's decisions on top.

Every pair of records is scored with the model's weights. A pair at or above the link
threshold is one person; between the review and link thresholds it is a possible
duplicate. The rule-based matcher's verdicts (shared identifier: certain; equal names,
birth date and sex: probable; near misses: possible) still count: the stronger verdict
of the two wins. Two records of one source are never merged (an EHR's own duplicates
are its business): they are flagged instead. People's decisions win over both: "not the
same person" neither merges nor flags, "same person" merges.
"""

from __future__ import annotations

from itertools import combinations

from mappers.model import Patient

from ..services.matching import Grade, MatchGroup, MatchKey, grade_keys, match_key
from .features import Row, row_of
from .model import Match, MatchModel

__all__ = ["Decisions", "group"]

# frozenset({a, b}) -> "same" | "different"
Decisions = dict[frozenset[str], str]


def _verdict(
    model: MatchModel, ka: MatchKey, kb: MatchKey, ra: Row, rb: Row
) -> tuple[str | None, Grade | None, Match]:
    """("link" | "review" | None, the grade to show, the model's match)."""
    match = model.score(ra, rb)
    rule = grade_keys(ka, kb)
    if rule in ("certain", "probable") or match.probability >= model.policy.link_probability:
        grade: Grade = "certain" if rule == "certain" else "probable"
        return "link", grade, match
    if rule == "possible" or match.probability >= model.policy.review_probability:
        return "review", "possible", match
    return None, None, match


def group(records: list[Patient], model: MatchModel, decisions: Decisions) -> list[MatchGroup]:
    """Records of one person together, input order deciding the primary record."""
    rows = [row_of(p) for p in records]
    # Normalised once per record: every record meets every other.
    keys = [match_key(p) for p in records]
    parent = list(range(len(records)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def sources_of(root: int) -> set[str]:
        return {records[k].source.source for k in range(len(records)) if find(k) == root}

    links: list[tuple[float, int, int, Grade, Match, bool]] = []
    reviews: list[tuple[int, int, Match]] = []
    for i, j in combinations(range(len(records)), 2):
        decision = decisions.get(frozenset((records[i].id, records[j].id)))
        if decision == "different":
            continue
        verdict, grade, match = _verdict(model, keys[i], keys[j], rows[i], rows[j])
        if decision == "same":
            links.append((2.0, i, j, "certain", match, True))
        elif verdict == "link" and grade is not None:
            links.append(
                (
                    match.probability + (1.0 if grade == "certain" else 0.0),
                    i,
                    j,
                    grade,
                    match,
                    False,
                )
            )
        elif verdict == "review":
            reviews.append((i, j, match))
    forbidden = [
        (i, j)
        for i, j in combinations(range(len(records)), 2)
        if decisions.get(frozenset((records[i].id, records[j].id))) == "different"
    ]
    grades: dict[int, Grade] = {}
    evidence: dict[int, Match] = {}
    decided: set[int] = set()
    # Strongest links first, so a weak link can't join what a stronger one kept apart.
    for _, i, j, grade, match, by_person in sorted(links, key=lambda t: -t[0]):
        ri, rj = find(i), find(j)
        if ri == rj:
            continue
        if sources_of(ri) & sources_of(rj):
            reviews.append((i, j, match))
            continue
        members_i = {k for k in range(len(records)) if find(k) == ri}
        members_j = {k for k in range(len(records)) if find(k) == rj}
        if any(
            (a in members_i and b in members_j) or (a in members_j and b in members_i)
            for a, b in forbidden
        ):
            continue
        parent[max(ri, rj)] = min(ri, rj)
        for k in (i, j):
            if grades.get(k) != "certain":
                grades[k] = grade
            evidence.setdefault(k, match)
            if by_person:
                decided.add(k)

    groups: dict[int, MatchGroup] = {}
    order: list[int] = []
    for idx, patient in enumerate(records):
        root = find(idx)
        if root not in groups:
            groups[root] = MatchGroup(records=[])
            order.append(root)
        g = groups[root]
        g.records.append(patient)
        if idx in grades:
            g.grades[patient.id] = grades[idx]
        if idx in evidence:
            g.evidence[patient.id] = evidence[idx]
        if idx in decided:
            g.decided.add(patient.id)
    for i, j, match in reviews:
        gi, gj = groups[find(i)], groups[find(j)]
        if gi is gj:
            continue
        for a, b in ((gi, gj), (gj, gi)):
            if b.id not in a.possible_duplicates:
                a.possible_duplicates.append(b.id)
            best = a.possible_evidence.get(b.id)
            if best is None or match.probability > best.probability:
                a.possible_evidence[b.id] = match
    return [groups[r] for r in order]
