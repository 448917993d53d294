"""Whatever arrives, parse_271 returns results or raises MappingError: nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from mappers import MappingError
from mappers.x12 import parse_271

from .x12kit import Member, make_271

NOW = datetime(2025, 1, 1, tzinfo=UTC)
VALID = make_271(
    [
        Member(
            refs=[("6P", "G1", "ACME")],
            dtps=[("346", "D8", "20240101"), ("291", "RD8", "20240101-20241231")],
            aaa=[("Y", "72", "C")],
            ebs=[
                (["1", "IND", "30", "HM", "PLAN"], ["MSG"], True),
                (
                    ["A", "IND", ["98", "UC"], "", "", "23", "10", ".2", "VS", "3", "Y", "N"],
                    [],
                    False,
                ),
            ],
            dependents=[Member(level="23", member_id=None, ebs=[(["6"], [], False)])],
        )
    ],
    newline="\n",
)


def outcome(raw: str) -> str:
    error: MappingError | None = None
    try:
        results = parse_271(raw, now=NOW)
    except MappingError as exc:
        error = exc
    if error is not None:
        assert error.path.startswith(("segment", "interchange"))
        return "error"
    assert results
    return "ok"


def test_valid_sample_parses() -> None:
    assert outcome(VALID) == "ok"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_random_text(text: str) -> None:
    outcome(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ISA*~:^0123456789ABCDEGHLNMST \n", max_size=300))
def test_x12_looking_noise(text: str) -> None:
    outcome("ISA" + text)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(VALID) - 1),
            st.sampled_from(["delete", "insert", "replace", "cut"]),
            st.text(alphabet="*~:^!|\n0123456789.-ABEHLMNPQRSTXYZ", min_size=1, max_size=4),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_mutations_of_a_valid_271(edits: list[tuple[int, str, str]]) -> None:
    raw = VALID
    for index, op, chunk in edits:
        i = min(index, max(len(raw) - 1, 0))
        if op == "delete":
            raw = raw[:i] + raw[i + len(chunk) :]
        elif op == "insert":
            raw = raw[:i] + chunk + raw[i:]
        elif op == "replace":
            raw = raw[:i] + chunk + raw[i + len(chunk) :]
        else:
            raw = raw[:i]
    outcome(raw)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(VALID)))
def test_every_truncation_is_refused(cut: int) -> None:
    # Anything cut before the IEA segment id is complete is a truncated interchange.
    expected = "error" if cut < VALID.rindex("IEA") + 3 else "ok"
    assert outcome(VALID[:cut]) == expected
