"""Split an X12 interchange into segments, with the delimiters its ISA declares.

X12 has no fixed delimiters: the ISA header (always 106 characters in a
conforming interchange) declares them by position. The element separator is
the character after ``ISA``; the repetition separator is ISA11 (5010); the
component separator is ISA16; the segment terminator is the character right
after ISA16.

Segments are numbered from 1 (the ISA) so errors and warnings can say
``segment 14 (EB)`` without quoting any value: no PHI leaves this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import MappingError

__all__ = ["ISA_LENGTH", "Delimiters", "Segment", "read_delimiters", "segment_path", "tokenize"]

ISA_LENGTH = 106
_TAG = re.compile(r"[A-Z][A-Z0-9]{1,2}")
# Whitespace a sender may put after a terminator (line breaks, indentation).
_PADDING = " \t\r\n"


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str = "*"
    component: str = ":"
    repetition: str | None = "^"
    segment: str = "~"


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment: its 1-based position in the interchange, its tag and its elements."""

    position: int
    tag: str
    elements: tuple[str, ...]
    delimiters: Delimiters

    @property
    def path(self) -> str:
        return segment_path(self.position, self.tag)

    def get(self, index: int) -> str:
        """Element ``index`` (1-based as in ``EB03``), stripped; "" when absent."""
        if 1 <= index <= len(self.elements):
            return self.elements[index - 1].strip()
        return ""

    def repeats(self, index: int) -> list[str]:
        """The repetitions of element ``index`` (EB03 may carry several service types)."""
        value = self.get(index)
        if not value:
            return []
        sep = self.delimiters.repetition
        parts = value.split(sep) if sep else [value]
        return [p.strip() for p in parts if p.strip()]

    def components(self, index: int) -> list[str]:
        value = self.get(index)
        return [p.strip() for p in value.split(self.delimiters.component)] if value else []


def segment_path(position: int, tag: str | None = None) -> str:
    # A tag that does not look like one may be shifted data: never echo it.
    if tag and _TAG.fullmatch(tag):
        return f"segment {position} ({tag})"
    return f"segment {position}"


def read_delimiters(raw: str) -> tuple[Delimiters, int]:
    """The delimiters the ISA declares, and where the ISA ends (index after its terminator).

    The ISA is located by its 16 element separators rather than fixed columns, so
    a sender that pads ISA06/ISA08 wrongly still parses; anything shorter than
    106 characters or not starting with ``ISA`` is rejected.
    """
    if not raw.startswith("ISA"):
        raise MappingError(segment_path(1), "interchange does not start with an ISA segment")
    if len(raw) < ISA_LENGTH:
        raise MappingError(segment_path(1, "ISA"), "ISA is shorter than 106 characters")
    element = raw[3]
    if element.isalnum() or element.isspace():
        raise MappingError(segment_path(1, "ISA"), "ISA element separator is not a delimiter")
    index = 3
    for _ in range(15):
        index = raw.find(element, index + 1)
        if index < 0:
            raise MappingError(segment_path(1, "ISA"), "ISA has fewer than 16 elements")
    # raw[index] is the separator before ISA16; ISA16 is one character, then the terminator.
    if index + 2 >= len(raw):
        raise MappingError(segment_path(1, "ISA"), "interchange truncated inside the ISA")
    component, terminator = raw[index + 1], raw[index + 2]
    fields = raw[4:index].split(element)
    repetition: str | None = fields[10].strip() if len(fields) > 10 else ""
    # In 4010 ISA11 is the standards id "U"; only punctuation is a repetition separator.
    if not repetition or len(repetition) != 1 or repetition.isalnum():
        repetition = None
    used = {element, component}
    if (
        terminator in used
        or terminator.isalnum()
        or component.isalnum()
        or component == element
        or (terminator.isspace() and terminator not in "\r\n")
    ):
        raise MappingError(segment_path(1, "ISA"), "ISA declares ambiguous delimiters")
    if repetition in (element, terminator):
        repetition = None
    return Delimiters(element, component, repetition, terminator), index + 3


def tokenize(raw: str) -> tuple[list[Segment], Delimiters]:
    """All segments of an interchange, with whitespace between segments dropped.

    Raises ``MappingError`` for input that is not an X12 interchange at all;
    structural checks (envelopes, counts) belong to the caller.
    """
    text = raw.lstrip("\ufeff" + _PADDING)
    delimiters, _ = read_delimiters(text)
    segments: list[Segment] = []
    for chunk in text.split(delimiters.segment):
        body = chunk.strip(_PADDING)
        if not body:
            continue
        position = len(segments) + 1
        parts = body.split(delimiters.element)
        tag = parts[0].strip()
        if not _TAG.fullmatch(tag):
            raise MappingError(segment_path(position), "segment has no valid segment id")
        segments.append(Segment(position, tag, tuple(parts[1:]), delimiters))
    return segments, delimiters
