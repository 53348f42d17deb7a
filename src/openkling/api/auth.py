"""Bearer auth: a Kling JWT (HS256, iss = access key) or the account's secret key as API key."""

from __future__ import annotations

import threading
import time

import jwt

from ..errors import (
    AuthHeaderMissing,
    TokenExpired,
    TokenInvalid,
    TokenNotYetValid,
)
from ..tasks.accounts import Credentials, Principal
from .text import bad_char, describe

DEFAULT_MAX_LIFETIME = 86400  # OPENKLING_JWT_MAX_LIFETIME_SECONDS


def bearer_token(header: str | None) -> str:
    if not header or not header.strip():
        raise AuthHeaderMissing()
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenInvalid("Authorization header must be 'Bearer <token>'")
    return token.strip()


class VerifiedTokens:
    """Tokens whose signature was checked, with the secret key they were checked against and
    their time claims. A client signs one token and sends it many times: the second time costs
    a dict lookup, not two JWT parses and an HMAC. An entry counts only while the account's
    current secret key is the one it was verified with, so a rotated key ends it at once."""

    MAX = 10_000

    def __init__(self) -> None:
        self._entries: dict[str, tuple[str, str, float, float | None]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> tuple[str, str, float, float | None] | None:
        return self._entries.get(token)

    def add(self, token: str, issuer: str, secret: str, exp: float, nbf: float | None) -> None:
        with self._lock:
            if len(self._entries) >= self.MAX:  # bounded: start over rather than grow
                self._entries.clear()
            self._entries[token] = (issuer, secret, exp, nbf)


class Authenticator:
    """Bearer credentials to the account they belong to, for one app: it keeps the tokens it
    has verified (``VerifiedTokens``), so no cache is shared by the apps of one process."""

    def __init__(
        self, accounts: Credentials, leeway: int, max_lifetime: int = DEFAULT_MAX_LIFETIME
    ) -> None:
        self.accounts = accounts
        self.leeway = leeway  # seconds of clock skew allowed on exp / nbf
        self.max_lifetime = max_lifetime  # how far ahead exp may lie
        self.verified = VerifiedTokens()

    def _from_verified(self, token: str, *, cached: bool = False) -> Principal | None:
        hit = self.verified.get(token)
        if hit is None:
            return None
        issuer, secret, exp, nbf = hit
        accounts, leeway = self.accounts, self.leeway
        account = accounts.cached("access", issuer) if cached else accounts.by_access_key(issuer)
        if account is None or account.secret_key != secret:
            return None  # key gone or rotated: the full check below says why
        now = time.time()
        if cached and (exp <= now - leeway or (nbf is not None and nbf > now + leeway)):
            return None  # the full check says why, after it has checked the key
        if exp <= now - leeway:
            raise TokenExpired()
        if nbf is not None and nbf > now + leeway:
            raise TokenNotYetValid()
        return account

    def authenticate_cached(self, header: str | None) -> Principal | None:
        """``authenticate`` from what this app has already verified and cached, with no store
        access; the key is NOT re-checked (see ``Credentials.cached``). None: not all of it is
        at hand, use ``authenticate``. Raises what ``authenticate`` would for a missing,
        malformed or expired token."""
        token = bearer_token(header)
        if token.count(".") != 2:
            return self.accounts.cached("secret", token)
        return self._from_verified(token, cached=True)

    def authenticate(self, header: str | None) -> Principal:
        token = bearer_token(header)
        if token.count(".") != 2:  # not a JWT: a plain API key
            account = self.accounts.by_secret_key(token)
            if account is None:
                raise TokenInvalid("API key is not valid")
            return account
        account = self._from_verified(token)
        if account is not None:
            return account
        try:
            head = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:  # its text names decoder internals: say what is wrong
            raise TokenInvalid(
                "authorization token is malformed: expected a JWT of three base64url parts "
                "holding JSON objects"
            ) from exc
        if head.get("alg") != "HS256":
            raise TokenInvalid(f"token algorithm must be HS256, got {_shown(head.get('alg'))}")
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or not issuer:
            raise TokenInvalid("token has no 'iss' claim (the access key)")
        self._check_claims(claims)
        account = self.accounts.by_access_key(issuer)
        if account is None:
            raise TokenInvalid("token 'iss' is not a known access key")
        try:
            verified = jwt.decode(
                token,
                account.secret_key,
                algorithms=["HS256"],
                leeway=self.leeway,
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
        nbf = verified.get("nbf")
        self.verified.add(
            token, issuer, account.secret_key, float(verified["exp"]), nbf and float(nbf)
        )
        return account

    def _check_claims(self, claims: dict[str, object]) -> None:
        """What PyJWT lets through: text no key holds, times given as strings (it converts
        them), a lifetime of centuries, and a future ``iat`` told as ``nbf``."""
        for name, value in claims.items():
            for text in (name, value) if isinstance(value, str) else (name,):
                char = bad_char(text, line=True)
                if char is not None:
                    raise TokenInvalid(
                        f"token claim {_shown(name) if text is value else 'name'} holds "
                        f"{describe(char)}, which no claim allows"
                    )
        for name in ("exp", "nbf", "iat"):
            value = claims.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise TokenInvalid(
                    f"token '{name}' must be a number (seconds since 1970), got {_shown(value)}"
                )
        now = time.time()
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp - now > self.max_lifetime + self.leeway:
            raise TokenInvalid(
                f"token 'exp' is {int(exp - now)} s from now; a token may live at most "
                f"{self.max_lifetime} s (OPENKLING_JWT_MAX_LIFETIME_SECONDS)"
            )
        iat = claims.get("iat")
        if isinstance(iat, int | float) and iat > now + self.leeway:
            raise TokenNotYetValid(
                f"token 'iat' (issued at) is {int(iat - now)} s in the future; check the "
                "signing machine's clock"
            )


def _shown(value: object) -> str:
    """A client-sent value, short, for a message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
