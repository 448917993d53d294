"""CAQH CORE connectivity (vC2.2.0, HTTP+MIME): the multipart/form-data envelope.

A real-time request carries ProcessingMode, PayloadType X12_270_Request_005010X279A1,
PayloadID, TimeStamp, SenderID, ReceiverID, CORERuleVersion and Payload (the 270).
The answer carries the same fields with PayloadType X12_271_Response_005010X279A1,
the receiver and sender swapped, and ErrorCode/ErrorMessage (``Success`` when the
envelope was fine; envelope problems are reported there, not as a 271).
"""

from __future__ import annotations

import email.parser
import email.policy
import uuid
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "REQUEST_PAYLOAD_TYPE",
    "RESPONSE_PAYLOAD_TYPE",
    "CoreEnvelope",
    "EnvelopeError",
    "is_multipart",
    "read_envelope",
    "write_envelope",
]

REQUEST_PAYLOAD_TYPE = "X12_270_Request_005010X279A1"
RESPONSE_PAYLOAD_TYPE = "X12_271_Response_005010X279A1"


class EnvelopeError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class CoreEnvelope:
    payload: str
    payload_id: str
    sender_id: str
    receiver_id: str
    rule_version: str


def is_multipart(content_type: str) -> bool:
    return content_type.lower().startswith("multipart/")


def read_envelope(content_type: str, body: bytes) -> CoreEnvelope:
    fields = _fields(content_type, body)
    for required in ("PayloadType", "ProcessingMode", "Payload"):
        if not fields.get(required):
            raise EnvelopeError(f"{required}Required", f"{required} is required")
    if fields["PayloadType"] != REQUEST_PAYLOAD_TYPE:
        raise EnvelopeError("PayloadTypeIllegal", "only real-time 270 requests are answered")
    if fields["ProcessingMode"] != "RealTime":
        raise EnvelopeError("ProcessingModeIllegal", "only RealTime is supported")
    return CoreEnvelope(
        payload=fields["Payload"],
        payload_id=fields.get("PayloadID", ""),
        sender_id=fields.get("SenderID", ""),
        receiver_id=fields.get("ReceiverID", ""),
        rule_version=fields.get("CORERuleVersion", "2.2.0"),
    )


def write_envelope(
    *,
    payload: str,
    request: CoreEnvelope | None,
    now: datetime,
    error_code: str = "Success",
    error_message: str = "",
) -> tuple[bytes, str]:
    """The response body and its Content-Type (with a fresh boundary)."""
    fields = {
        "ProcessingMode": "RealTime",
        "PayloadType": RESPONSE_PAYLOAD_TYPE,
        "PayloadID": str(uuid.uuid4()),
        "TimeStamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "SenderID": request.receiver_id if request else "",
        "ReceiverID": request.sender_id if request else "",
        "CORERuleVersion": request.rule_version if request else "2.2.0",
        "ErrorCode": error_code,
        "ErrorMessage": error_message,
    }
    if payload:
        fields["Payload"] = payload
    boundary = f"core-{uuid.uuid4().hex}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    body = "".join(parts) + f"--{boundary}--\r\n"
    return body.encode(), f"multipart/form-data; boundary={boundary}"


def _fields(content_type: str, body: bytes) -> dict[str, str]:
    # The stdlib MIME parser reads form-data without python-multipart (not a dependency).
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode("utf-8", errors="replace").strip("\r\n")
    return fields
