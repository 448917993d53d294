"""Values the gateway keeps in the shared cache that hold PHI, sealed at rest.

AES-256-GCM (``cryptography``) with a key ring from settings: the first key seals, every
key opens, so a key is rotated by putting a new one first and dropping the old one once
entries sealed with it have expired (or, for what lives long, been sealed again). A
sealed value names its key id and carries a fresh 96-bit nonce; the cache key it is
stored under is the associated data, so a value copied under another key (another
member, another tenant) does not open. A value that does not open (unknown key id,
tampered, truncated) reads as a cache miss, never as an error.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["Sealer", "derive_key"]

_FORMAT = b"\x01"
_NONCE = 12


def derive_key(secret: str, *, purpose: str) -> bytes:
    """A 256-bit key from a configured secret (any length), one per purpose."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"frontdesk {purpose}".encode()
    ).derive(secret.encode())


class Sealer:
    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        """``keys``: (key id, 32-byte key), the sealing key first."""
        if not keys:
            raise ValueError("a sealer needs at least one key")
        for kid, key in keys:
            if not (0 < len(kid.encode()) < 256) or len(key) != 32:
                raise ValueError("key ids are 1 to 255 bytes and keys 32 bytes")
        self._current = keys[0][0].encode()
        self._ciphers = {kid.encode(): AESGCM(key) for kid, key in keys}

    def seal(self, plain: bytes, *, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        sealed = self._ciphers[self._current].encrypt(nonce, plain, context.encode())
        return _FORMAT + bytes([len(self._current)]) + self._current + nonce + sealed

    def is_current(self, sealed: bytes) -> bool:
        """Whether ``sealed`` names the sealing key (else it is one to re-seal before
        its key leaves the ring)."""
        if sealed[:1] != _FORMAT or len(sealed) < 2:
            return False
        return sealed[2 : 2 + sealed[1]] == self._current

    def open(self, sealed: bytes | None, *, context: str) -> bytes | None:
        if not sealed or sealed[:1] != _FORMAT or len(sealed) < 2:
            return None
        end = 2 + sealed[1]
        cipher = self._ciphers.get(sealed[2:end])
        if cipher is None or len(sealed) < end + _NONCE + 16:
            return None
        try:
            return cipher.decrypt(
                sealed[end : end + _NONCE], sealed[end + _NONCE :], context.encode()
            )
        except InvalidTag:
            return None
