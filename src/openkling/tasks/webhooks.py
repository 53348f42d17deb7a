"""Standard Webhooks signing: secrets (``whsec_...``) and the three signature headers.

During a standard rotation two secrets sign each callback: ``webhook-signature`` then holds
both signatures, space-separated, and a receiver with either secret verifies it. An account
with no secret (all deleted) sends its callbacks with no signature headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(
    secret: str | Sequence[str], message_id: str, body: bytes, timestamp: int | None = None
) -> dict:
    """The headers of one callback, signed with each of ``secret`` (none: no signature)."""
    signers = [secret] if isinstance(secret, str) else list(secret)
    signers = [s for s in signers if s]
    out = {"content-type": "application/json"}
    if not signers:
        return out
    ts = int(time.time()) if timestamp is None else timestamp
    out["webhook-id"] = message_id
    out["webhook-timestamp"] = str(ts)
    out["webhook-signature"] = " ".join(sign(s, message_id, ts, body) for s in signers)
    return out
