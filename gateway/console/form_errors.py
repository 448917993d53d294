"""A console form the API's schema refuses, said in words: which fields, never their
values (a value may be patient data)."""

from __future__ import annotations

from pydantic import ValidationError

from ..services.errors import InvalidRequest

__all__ = ["invalid_fields"]


def invalid_fields(exc: ValidationError) -> InvalidRequest:
    fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
    return InvalidRequest(f"check these fields: {', '.join(fields)}")
