"""Test helpers: a 271 writer from structured data and a strict 270 structure checker.

pyx12 (the Python X12 validator) ships no 005010X279A1 map in its released
versions, so ``check_270`` is our own strict check of what the guide requires of
the segments we write: envelope, counts, control numbers, hierarchy, segment
order, qualifiers, element sizes and character set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from mappers.x12 import Delimiters
from mappers.x12.tokenizer import Segment, tokenize


@dataclass
class Member:
    """One 2000C (level "22") or 2000D ("23") loop of a generated 271."""

    last: str = "DOE"
    first: str = "JANE"
    member_id: str | None = "MBR001"
    level: str = "22"
    trn: str | None = "TRACE-1"
    refs: list[tuple[str, ...]] = field(default_factory=list)
    dtps: list[tuple[str, str, str]] = field(default_factory=list)
    aaa: list[tuple[str, str, str]] = field(default_factory=list)
    # Each EB: (elements after "EB", MSG texts, whether an LS/LE 2120 loop follows).
    ebs: list[tuple[Sequence[str | list[str]], list[str], bool]] = field(default_factory=list)
    dependents: list[Member] = field(default_factory=list)


def make_271(
    members: list[Member],
    *,
    delimiters: Delimiters | None = None,
    newline: str = "",
    payer_aaa: list[tuple[str, str, str]] | None = None,
    provider_aaa: list[tuple[str, str, str]] | None = None,
    bht: tuple[str, str] = ("20240105", "1230"),
    payer: tuple[str, str] = ("ACME HEALTH", "60054"),
) -> str:
    d = delimiters or Delimiters()
    rep = d.repetition or "^"

    def seg(tag: str, *elements: str | list[str]) -> str:
        values = [rep.join(e) if isinstance(e, list) else e for e in elements]
        while values and values[-1] == "":
            values.pop()
        return d.element.join([tag, *values])

    body: list[str] = [
        seg("ST", "271", "0001", "005010X279A1"),
        seg("BHT", "0022", "11", "REF1", *bht),
        seg("HL", "1", "", "20", "1"),
        seg("NM1", "PR", "2", payer[0], "", "", "", "", "PI", payer[1]),
    ]
    body += [seg("AAA", *a[:1], "", *a[1:]) for a in payer_aaa or []]
    body += [
        seg("HL", "2", "1", "21", "1" if members else "0"),
        seg("NM1", "1P", "2", "CLINIC", "", "", "", "", "XX", "1234567893"),
    ]
    body += [seg("AAA", *a[:1], "", *a[1:]) for a in provider_aaa or []]
    hl = 2

    def member(m: Member, parent: int) -> None:
        nonlocal hl
        hl += 1
        me = hl
        body.append(seg("HL", str(me), str(parent), m.level, "1" if m.dependents else "0"))
        if m.trn:
            body.append(seg("TRN", "2", m.trn, "9FRONTDESK"))
        entity = "IL" if m.level == "22" else "03"
        ident = ["MI", m.member_id] if m.member_id else []
        body.append(seg("NM1", entity, "1", m.last, m.first, "", "", "", *ident))
        body.extend(seg("REF", *r) for r in m.refs)
        body.append(seg("N3", "1 MAIN ST"))
        body.extend(seg("AAA", a[0], "", a[1], a[2]) for a in m.aaa)
        body.append(seg("DMG", "D8", "19800101", "F"))
        body.extend(seg("DTP", *t) for t in m.dtps)
        for elements, messages, entity_loop in m.ebs:
            body.append(seg("EB", *elements))
            body.extend(seg("MSG", text) for text in messages)
            if entity_loop:
                body.extend(
                    [
                        seg("LS", "2120"),
                        seg("NM1", "PR", "2", "OTHER PAYER", "", "", "", "", "PI", "99999"),
                        seg("N3", "PO BOX 1"),
                        seg("LE", "2120"),
                    ]
                )
        for dep in m.dependents:
            member(dep, me)

    for m in members:
        member(m, 2)
    body.append(seg("SE", str(len(body) + 1), "0001"))
    isa = (
        f"ISA{d.element}00{d.element}{' ' * 10}{d.element}00{d.element}{' ' * 10}{d.element}"
        f"ZZ{d.element}{'PAYER'.ljust(15)}{d.element}ZZ{d.element}{'FRONTDESK'.ljust(15)}"
        f"{d.element}240105{d.element}1230{d.element}{rep}{d.element}00501{d.element}"
        f"000000042{d.element}0{d.element}T{d.element}{d.component}"
    )
    segments = [
        isa,
        seg("GS", "HB", "PAYER", "FRONTDESK", "20240105", "1230", "42", "X", "005010X279A1"),
        *body,
        seg("GE", "1", "42"),
        seg("IEA", "1", "000000042"),
    ]
    return "".join(s + d.segment + newline for s in segments)


# --- strict 270 check -------------------------------------------------------

_ORDER = re.compile(
    r"ISA GS ST BHT HL NM1 HL NM1 HL (TRN )?NM1 (REF )*(DMG )?(DTP )?(EQ )*"
    r"(HL TRN NM1 (DMG )?(DTP )?(EQ )+)?SE GE IEA"
)
_ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
# X12 basic and extended character sets (no delimiters).
_CHARSET = re.compile(r"[A-Za-z0-9 !\"&'()+,\-./;?=%@\[\]_{}\\|<>#$]*")
_MAX = {("NM1", 3): 60, ("NM1", 4): 35, ("NM1", 9): 80, ("TRN", 2): 50, ("REF", 2): 50}


def _valid_d8(value: str) -> bool:
    try:
        date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return False
    return len(value) == 8 and value.isdigit()


def check_270(raw: str) -> list[str]:
    """Problems found in a 270 interchange; [] means it passed."""
    problems: list[str] = []
    segments, d = tokenize(raw)
    tags = " ".join(s.tag for s in segments)
    if not _ORDER.fullmatch(tags):
        problems.append(f"segment order: {tags}")
    isa_text = raw[: raw.index(d.segment) + 1]
    if len(isa_text) != 106:
        problems.append("ISA is not 106 characters")
    isa = segments[0]
    widths = tuple(len(e) for e in isa.elements)
    if widths != _ISA_WIDTHS:
        problems.append(f"ISA element widths {widths}")
    if isa.elements[11] != "00501" or isa.elements[14] not in ("T", "P"):
        problems.append("ISA12/ISA15")
    if len({d.element, d.component, d.repetition, d.segment}) != 4:
        problems.append("delimiters not distinct")
    by_tag: dict[str, list[Segment]] = {}
    for s in segments:
        by_tag.setdefault(s.tag, []).append(s)
        if s.elements and s.elements[-1] == "" and s.tag != "ISA":
            problems.append(f"{s.path}: trailing empty element")
        for i, value in enumerate(s.elements, 1):
            if s.tag != "ISA" and not _CHARSET.fullmatch(value.replace(d.component, "")):
                problems.append(f"{s.path}: element {i} has characters outside X12 sets")
            limit = _MAX.get((s.tag, i))
            if limit and len(value) > limit:
                problems.append(f"{s.path}: element {i} too long")
    gs, st, se = by_tag["GS"][0], by_tag["ST"][0], by_tag["SE"][0]
    ge, iea = by_tag["GE"][0], by_tag["IEA"][0]
    if (gs.get(1), gs.get(8), gs.get(7)) != ("HS", "005010X279A1", "X"):
        problems.append("GS01/GS07/GS08")
    if (st.get(1), st.get(3)) != ("270", "005010X279A1") or not 4 <= len(st.get(2)) <= 9:
        problems.append("ST01/ST02/ST03")
    if se.get(1) != str(se.position - st.position + 1) or se.get(2) != st.get(2):
        problems.append("SE01/SE02")
    if ge.get(1) != "1" or ge.get(2) != gs.get(6) or not gs.get(6).isdigit():
        problems.append("GE01/GE02")
    if iea.get(1) != "1" or iea.get(2) != isa.get(13) or not isa.get(13).isdigit():
        problems.append("IEA01/IEA02")
    bht = by_tag["BHT"][0]
    if (bht.get(1), bht.get(2)) != ("0022", "13") or not _valid_d8(bht.get(4)):
        problems.append("BHT")
    problems += _check_hierarchy(segments)
    for s in segments:
        if s.tag == "DMG" and (s.get(1) != "D8" or not _valid_d8(s.get(2))):
            problems.append(f"{s.path}: DMG")
        if s.tag == "DMG" and s.get(3) not in ("", "F", "M", "U"):
            problems.append(f"{s.path}: DMG03")
        if (s.tag == "DTP" and (s.get(1), s.get(2)) != ("291", "D8")) or (
            s.tag == "DTP" and not _valid_d8(s.get(3))
        ):
            problems.append(f"{s.path}: DTP")
        if s.tag == "EQ" and not re.fullmatch(r"[A-Z0-9]{1,2}", s.get(1)):
            problems.append(f"{s.path}: EQ01")
        if s.tag == "TRN" and (s.get(1) != "1" or len(s.get(3)) != 10 or not s.get(2)):
            problems.append(f"{s.path}: TRN")
        if s.tag == "REF" and (s.get(1) not in ("6P", "18", "1L", "IG", "1W") or not s.get(2)):
            problems.append(f"{s.path}: REF")
    return problems


def _check_hierarchy(segments: list[Segment]) -> list[str]:
    problems: list[str] = []
    expected_parent = {"20": "", "21": "1", "22": "2", "23": "3"}
    hls = [s for s in segments if s.tag == "HL"]
    for n, hl in enumerate(hls, 1):
        if hl.get(1) != str(n) or expected_parent.get(hl.get(3)) != hl.get(2):
            problems.append(f"{hl.path}: HL numbering or parent")
        has_child = n < len(hls)
        if hl.get(4) != ("1" if has_child else "0"):
            problems.append(f"{hl.path}: HL04")
    nm1 = [s for s in segments if s.tag == "NM1"]
    entities = [s.get(1) for s in nm1]
    if entities[:3] != ["PR", "1P", "IL"] or entities[3:] not in ([], ["03"]):
        problems.append(f"NM1 entities {entities}")
    if nm1[0].get(8) != "PI" or not nm1[0].get(9):
        problems.append("NM1*PR needs PI id")
    if nm1[1].get(8) not in ("XX", "SV") or not nm1[1].get(9):
        problems.append("NM1*1P needs an id")
    sub = nm1[2]
    if not (sub.get(8) == "MI" and sub.get(9)) and not (sub.get(3) and sub.get(4)):
        problems.append("NM1*IL needs a member id or a name")
    return problems
