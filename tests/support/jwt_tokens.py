"""JWTs written byte for byte, for attacks a JWT library would not let a test write."""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc.jwk import RSAKey


def _b64(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def signed_raw(key: RSAKey, payload: str, *, kid: str = "k1") -> str:
    """An RS256 JWT over ``payload`` exactly as written (duplicate members stay)."""
    header = json.dumps({"alg": "RS256", "kid": kid, "typ": "JWT"}).encode()
    signing_input = _b64(header) + b"." + _b64(payload.encode())
    private = key.private_key
    if private is None:
        raise ValueError("signing needs a private key")
    signature = private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return (signing_input + b"." + _b64(signature)).decode()
