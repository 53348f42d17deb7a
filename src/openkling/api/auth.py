"""Bearer auth: a Kling JWT (HS256, iss = access key) or the account's secret key as API key."""

from __future__ import annotations

import jwt

from ..errors import (
    AuthHeaderMissing,
    TokenExpired,
    TokenInvalid,
    TokenNotYetValid,
)
from ..tasks.accounts import Credentials, Principal


def bearer_token(header: str | None) -> str:
    if not header or not header.strip():
        raise AuthHeaderMissing()
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenInvalid("Authorization header must be 'Bearer <token>'")
    return token.strip()


def authenticate(accounts: Credentials, header: str | None, leeway: int) -> Principal:
    token = bearer_token(header)
    if token.count(".") != 2:  # not a JWT: a plain API key
        account = accounts.by_secret_key(token)
        if account is None:
            raise TokenInvalid("API key is not valid")
        return account
    try:
        head = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:  # its text names decoder internals: say what is wrong instead
        raise TokenInvalid(
            "authorization token is malformed: expected a JWT of three base64url parts "
            "holding JSON objects"
        ) from exc
    if head.get("alg") != "HS256":
        raise TokenInvalid(f"token algorithm must be HS256, got {_shown(head.get('alg'))}")
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise TokenInvalid("token has no 'iss' claim (the access key)")
    account = accounts.by_access_key(issuer)
    if account is None:
        raise TokenInvalid("token 'iss' is not a known access key")
    try:
        jwt.decode(
            token,
            account.secret_key,
            algorithms=["HS256"],
            leeway=leeway,
            options={"require": ["exp"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired() from exc
    except jwt.ImmatureSignatureError as exc:
        raise TokenNotYetValid() from exc
    except jwt.MissingRequiredClaimError as exc:
        raise TokenInvalid("token has no 'exp' claim (its expiry time)") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenInvalid("token signature does not match the secret key") from exc
    except jwt.PyJWTError as exc:  # exp / nbf / iat that are not numbers, and the like
        raise TokenInvalid(
            "authorization token is invalid: 'exp', 'nbf' and 'iat' must be integer seconds"
        ) from exc
    return account


def _shown(value: object) -> str:
    """A client-sent value, short, for a message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
