"""X12 270/271 (005010X279A1) ⇄ the canonical eligibility model.

``build_270`` writes an inquiry strictly; ``parse_271`` reads a response
leniently (warnings for what it cannot use, ``MappingError`` with the segment
position for input that is not a usable 271). Pure: no I/O, stdlib and
pydantic only.
"""

from __future__ import annotations

from .build_270 import build_270
from .codes import RETRY_LATER_REASONS
from .parse_271 import parse_271
from .tokenizer import Delimiters

__all__ = ["RETRY_LATER_REASONS", "Delimiters", "build_270", "parse_271"]
