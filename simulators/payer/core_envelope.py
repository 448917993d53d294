"""The payer side of the CAQH CORE envelope (vC2.2.0, HTTP+MIME): which requests it
accepts and how it answers. The multipart encoding itself is ``connectors.core_envelope``,
shared with the clearinghouse client.

A real-time request must carry PayloadType X12_270_Request_005010X279A1, ProcessingMode
RealTime and a Payload (the 270). The answer carries PayloadType
X12_271_Response_005010X279A1, the receiver and sender swapped, and ErrorCode/ErrorMessage
(``Success`` when the envelope was fine; envelope problems are reported there, not as a 271).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from connectors.core_envelope import (
    REQUEST_PAYLOAD_TYPE,
    RESPONSE_PAYLOAD_TYPE,
    RULE_VERSION,
    decode_fields,
    encode_fields,
    is_multipart,
    timestamp,
)

__all__ = [
    "REQUEST_PAYLOAD_TYPE",
    "RESPONSE_PAYLOAD_TYPE",
    "CoreEnvelope",
    "EnvelopeError",
    "is_multipart",
    "read_envelope",
    "write_envelope",
]


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


def read_envelope(content_type: str, body: bytes) -> CoreEnvelope:
    fields = decode_fields(content_type, body)
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
        rule_version=fields.get("CORERuleVersion", RULE_VERSION),
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
        "TimeStamp": timestamp(now),
        "SenderID": request.receiver_id if request else "",
        "ReceiverID": request.sender_id if request else "",
        "CORERuleVersion": request.rule_version if request else RULE_VERSION,
        "ErrorCode": error_code,
        "ErrorMessage": error_message,
    }
    if payload:
        fields["Payload"] = payload
    return encode_fields(fields)
