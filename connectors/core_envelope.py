"""CAQH CORE connectivity (vC2.2.0, HTTP+MIME): the multipart/form-data envelope of a
real-time 270/271 exchange, both ways.

A request carries ProcessingMode, PayloadType, PayloadID, TimeStamp, SenderID,
ReceiverID, CORERuleVersion and Payload; an answer the same with ErrorCode and
ErrorMessage. The clearinghouse client (``connectors.eligibility``) writes requests and
reads answers; the payer simulator reads requests and writes answers with the same code.
"""

from __future__ import annotations

import email.parser
import email.policy
import uuid
from collections.abc import Mapping
from datetime import datetime

__all__ = [
    "REQUEST_PAYLOAD_TYPE",
    "RESPONSE_PAYLOAD_TYPE",
    "RULE_VERSION",
    "decode_fields",
    "encode_fields",
    "is_multipart",
    "timestamp",
]

REQUEST_PAYLOAD_TYPE = "X12_270_Request_005010X279A1"
RESPONSE_PAYLOAD_TYPE = "X12_271_Response_005010X279A1"
RULE_VERSION = "2.2.0"


def is_multipart(content_type: str) -> bool:
    return content_type.strip().lower().startswith("multipart/")


def timestamp(now: datetime) -> str:
    """TimeStamp as the rule writes it (UTC, seconds)."""
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_fields(fields: Mapping[str, str]) -> tuple[bytes, str]:
    """The multipart/form-data body of ``fields`` and its Content-Type (fresh boundary)."""
    boundary = f"core-{uuid.uuid4().hex}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    body = "".join(parts) + f"--{boundary}--\r\n"
    return body.encode(), f"multipart/form-data; boundary={boundary}"


def decode_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The named parts of a multipart/form-data body; {} when it is not multipart."""
    # The stdlib MIME parser reads form-data without python-multipart (not a dependency).
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        fields[name] = (
            payload.decode("utf-8", errors="replace").strip("\r\n")
            if isinstance(payload, bytes)
            else ""
        )
    return fields
