"""ISA/GS/ST … SE/GE/IEA: find the 271 transactions of an interchange.

A missing trailer (SE, GE or IEA) means the interchange was cut short: that is
a ``MappingError`` naming the segment where the trailer was expected, since
the benefits may be incomplete. Count and control-number mismatches (SE01,
SE02, GE01, GE02, IEA01, IEA02) are recorded as warnings instead: the content
is all there, and real payers (and the X12 guide's own published examples)
get the counts wrong often enough that refusing them would refuse coverage
answers a PSR needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import MappingError
from .tokenizer import Segment

__all__ = ["Transaction", "split_transactions"]

_TRAILERS = frozenset({"SE", "ST", "GE", "GS", "IEA", "ISA"})


@dataclass(slots=True)
class Transaction:
    """The segments of one ST … SE, with the envelope warnings that concern it."""

    segments: list[Segment]
    warnings: list[str] = field(default_factory=list)


def split_transactions(segments: list[Segment]) -> list[Transaction]:
    if not segments or segments[0].tag != "ISA":
        raise MappingError("segment 1", "interchange does not start with an ISA segment")
    last = segments[-1]
    if last.tag != "IEA":
        raise MappingError(last.path, "interchange truncated: no IEA trailer")
    interchange_warnings: list[str] = []
    transactions: list[Transaction] = []
    groups = 0
    i, end = 1, len(segments) - 1
    while i < end:
        gs = segments[i]
        if gs.tag != "GS":
            raise MappingError(gs.path, "expected a GS functional group header")
        groups += 1
        i += 1
        count = 0
        while i < end and segments[i].tag == "ST":
            transaction, i = _transaction(segments, i, end)
            transactions.append(transaction)
            count += 1
        ge = segments[i]
        if ge.tag != "GE":
            raise MappingError(ge.path, "functional group truncated: no GE trailer")
        if ge.get(1) != str(count):
            interchange_warnings.append(f"{ge.path}: GE01 does not match the transaction count")
        if ge.get(2) != gs.get(6):
            interchange_warnings.append(f"{ge.path}: GE02 does not match GS06")
        i += 1
    if last.get(1) != str(groups):
        interchange_warnings.append(f"{last.path}: IEA01 does not match the group count")
    isa13 = segments[0].get(13)
    if last.get(2) != isa13:
        interchange_warnings.append(f"{last.path}: IEA02 does not match ISA13")
    if not transactions:
        raise MappingError(last.path, "interchange holds no 271 transaction")
    for transaction in transactions:
        transaction.warnings[:0] = interchange_warnings
    return transactions


def _transaction(segments: list[Segment], start: int, end: int) -> tuple[Transaction, int]:
    st = segments[start]
    if st.get(1) != "271":
        raise MappingError(st.path, "transaction is not a 271 (ST01)")
    j = start + 1
    while j < end and segments[j].tag not in _TRAILERS:
        j += 1
    se = segments[j]
    if se.tag != "SE":
        raise MappingError(se.path, "transaction truncated: no SE trailer")
    warnings: list[str] = []
    if se.get(1) != str(j - start + 1):
        warnings.append(f"{se.path}: SE01 does not match the segment count")
    if se.get(2) != st.get(2):
        warnings.append(f"{se.path}: SE02 does not match ST02")
    return Transaction(segments[start : j + 1], warnings), j + 1
