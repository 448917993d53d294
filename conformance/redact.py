"""Keeping PHI out of reports: query values and patient details in excerpts.

Reports travel (CI artefacts, tickets, e-mail), so by default they carry no names, birth
dates, identifiers, phone numbers or addresses. Resource ids and search parameter *names*
stay: they are what an engineer needs to reproduce a failure, and ids are not PHI here.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["MASK", "Redactor"]

MASK = "***"

# Query parameters whose values describe the query, not a person.
_SAFE_PARAMS = frozenset(
    {
        "_count",
        "_include",
        "_revinclude",
        "_total",
        "_sort",
        "_summary",
        "_format",
        "_elements",
        "_getpages",
        "_getpagesoffset",
        "_pretty",
        "_bundletype",
        "status",
        "schedule",
        "_tag",
        "_id",
    }
)

# Elements that identify or describe a person (Patient, RelatedPerson, Coverage...).
_PHI_KEYS = frozenset(
    {
        "name",
        "birthDate",
        "identifier",
        "telecom",
        "address",
        "photo",
        "contact",
        "subscriberId",
        "text",
        "display",
        "deceasedDateTime",
    }
)


# Credentials a token endpoint answers (or a client sends): masked even with show_phi.
_SECRET_KEYS = frozenset(
    {"access_token", "refresh_token", "id_token", "client_assertion", "client_secret"}
)


class Redactor:
    """Redacts URLs and bodies unless `show_phi` (for private runs on synthetic data)."""

    def __init__(self, *, show_phi: bool = False, excerpt_chars: int = 600) -> None:
        self.show_phi = show_phi
        self.excerpt_chars = excerpt_chars

    def url(self, url: str) -> str:
        if self.show_phi:
            return url
        parts = urlsplit(url)
        if not parts.query:
            return url
        pairs = [
            (k, v if k.split(":", 1)[0] in _SAFE_PARAMS else MASK)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
        # Keep `***` readable instead of percent-encoding it.
        query = urlencode(pairs, safe="*:|,")
        return urlunsplit(parts._replace(query=query))

    def body(self, content: bytes | None) -> str | None:
        """A short excerpt of a body; JSON bodies have person details masked."""
        if not content:
            return None
        try:
            doc = json.loads(content)
        except ValueError:
            # Non-JSON could be anything (HTML error pages echo queries): show only its size.
            if not self.show_phi:
                return f"<{len(content)} bytes, not JSON>"
            return _masked_form(content.decode("utf-8", "replace"))[: self.excerpt_chars]
        doc = self.value(doc)
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
        if len(text) > self.excerpt_chars:
            text = text[: self.excerpt_chars] + f"… ({len(text)} chars)"
        return text

    def value(self, doc: Any) -> Any:
        """`doc` with every credential, and unless `show_phi` every person-describing
        element, replaced by the mask."""
        if isinstance(doc, dict):
            masked = _SECRET_KEYS if self.show_phi else _SECRET_KEYS | _PHI_KEYS
            out = {k: MASK if k in masked else self.value(v) for k, v in doc.items()}
            # Bundle.link urls repeat the search query (names, birth dates).
            if "relation" in out and isinstance(out.get("url"), str):
                out["url"] = self.url(out["url"])
            return out
        if isinstance(doc, list):
            return [self.value(v) for v in doc]
        return doc

    def text(self, text: str) -> str:
        """Free text written by a check (notes): masked unless `show_phi`.

        Checks mark PHI in notes with `Redactor.phi(...)` markers."""
        if self.show_phi:
            return text.replace(_OPEN, "").replace(_CLOSE, "")
        out: list[str] = []
        rest = text
        while _OPEN in rest:
            head, _, tail = rest.partition(_OPEN)
            _, _, rest = tail.partition(_CLOSE)
            out += [head, MASK]
        out.append(rest)
        return "".join(out)

    @staticmethod
    def phi(value: object) -> str:
        """Mark a value in a note as PHI so `text()` can mask it."""
        return f"{_OPEN}{value}{_CLOSE}"


def _masked_form(text: str) -> str:
    """A form body (a token request) with its credentials masked; other text as is."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return text
    if not any(k in _SECRET_KEYS for k, _ in pairs):
        return text
    return urlencode([(k, MASK if k in _SECRET_KEYS else v) for k, v in pairs], safe="*:/")


_OPEN = "\x02"
_CLOSE = "\x03"
