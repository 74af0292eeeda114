"""Who is asking: passwords, signed tokens and API keys, as FastAPI dependencies.

Access tokens are JWTs (HS256, pinned) signed with the newest configured key and
verified with any configured key, looked up by `kid`, so keys rotate without
logging anyone out. Refresh tokens carry another audience and type, so neither
kind of token can stand in for the other.
"""

# NOTE: no `from __future__ import annotations`: FastAPI resolves the
# dependencies in the closures below from their annotations at definition time.

import asyncio
import base64
import enum
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from actors.errors import Forbidden, NotAuthenticated

JWT_ALGORITHM = "HS256"
ACCESS = "access"
REFRESH = "refresh"
API_KEY_PREFIX = "mqk_"

# OWASP's recommended argon2id parameters: 19 MiB, two passes, one lane.
_password_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the email is unknown, so both paths take as long.
_DUMMY_HASH = _password_hasher.hash("not-a-real-password")


class Role(enum.StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    ADMIN = "admin"
    KIOSK = "kiosk"
    PARTNER = "partner"


class PrincipalKind(enum.StrEnum):
    USER = "user"
    API_KEY = "api_key"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a person, or a partner or kiosk client."""

    subject_id: str
    kind: PrincipalKind
    roles: frozenset[str]

    def has_any(self, roles: Iterable[str]) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def is_staff(self) -> bool:
        return self.has_any((Role.STAFF, Role.ADMIN))


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(hash_password_blocking, password)


def hash_password_blocking(password: str) -> str:
    """For start-up code with no event loop to keep free."""
    return _password_hasher.hash(password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    """True when `password` matches; takes as long when there is no hash."""

    def verify() -> bool:
        try:
            return _password_hasher.verify(password_hash or _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return False

    matched = await asyncio.to_thread(verify)
    return matched and password_hash is not None


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """API keys are long random strings, so a fast hash is enough to store them."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    token_id: str
    expires_in_s: int


# Access tokens remembered as verified, per process (about 1 KiB each).
VERIFIED_TOKENS_KEPT = 50_000


class TokenService:
    """Issues and verifies access and refresh tokens."""

    def __init__(
        self,
        keys: list[tuple[str, str]],
        *,
        issuer: str,
        audience: str,
        access_ttl_s: int,
        refresh_ttl_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self._signing_kid, self._signing_secret = keys[0]
        self._secrets = dict(keys)
        self._issuer = issuer
        self._audience = audience
        self._refresh_audience = f"{audience}:refresh"
        self._access_ttl_s = access_ttl_s
        self._refresh_ttl_s = refresh_ttl_s
        self._clock = clock
        self._verified: dict[str, tuple[Principal, float]] = {}

    @property
    def refresh_ttl_s(self) -> int:
        return self._refresh_ttl_s

    def issue_access(self, subject_id: str, roles: Iterable[str]) -> IssuedToken:
        return self._issue(
            subject_id,
            ACCESS,
            self._audience,
            self._access_ttl_s,
            {"roles": sorted(roles)},
        )

    def issue_refresh(self, subject_id: str) -> IssuedToken:
        return self._issue(
            subject_id, REFRESH, self._refresh_audience, self._refresh_ttl_s, {}
        )

    def _issue(
        self,
        subject_id: str,
        token_type: str,
        audience: str,
        ttl_s: int,
        extra: dict[str, Any],
    ) -> IssuedToken:
        now = int(self._clock())
        token_id = uuid.uuid4().hex
        claims = {
            "iss": self._issuer,
            "aud": audience,
            "sub": subject_id,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_s,
            "jti": token_id,
            "typ": token_type,
            **extra,
        }
        token = jwt.encode(
            claims,
            self._signing_secret,
            algorithm=JWT_ALGORITHM,
            headers={"kid": self._signing_kid},
        )
        return IssuedToken(token=token, token_id=token_id, expires_in_s=ttl_s)

    def verify_access(self, token: str) -> Principal:
        """The caller an access token names, or `NotAuthenticated`.

        A customer sends the same token with every request during a rush, and
        checking its signature is a large share of a hold's CPU; a token once
        verified is remembered with its expiry. Only a successful check is
        remembered, and the expiry is checked again on every use.
        """
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, expires_at = remembered
            if self._clock() < expires_at:
                return principal
            del self._verified[token]
        claims = self._verify(token, ACCESS, self._audience)
        roles = claims.get("roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise NotAuthenticated("The token carries no roles")
        principal = Principal(
            subject_id=str(claims["sub"]),
            kind=PrincipalKind.USER,
            roles=frozenset(roles),
        )
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            # Oldest first: dicts keep insertion order.
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (principal, claims["exp"])
        return principal

    def verify_refresh(self, token: str) -> tuple[str, str]:
        """(subject id, token id) of a valid refresh token."""
        claims = self._verify(token, REFRESH, self._refresh_audience)
        return str(claims["sub"]), str(claims["jti"])

    def _verify(self, token: str, token_type: str, audience: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise NotAuthenticated("The token is malformed") from exc
        secret = self._secrets.get(str(header.get("kid")))
        if secret is None:
            raise NotAuthenticated("The token was signed with an unknown key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                secret,
                algorithms=[JWT_ALGORITHM],
                audience=audience,
                issuer=self._issuer,
                # Times are checked below against this service's clock.
                options={
                    "require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise NotAuthenticated("The token is not valid") from exc
        now = self._clock()
        if not all(isinstance(claims[c], int) for c in ("exp", "nbf", "iat")):
            raise NotAuthenticated("The token's times are not numbers")
        if now >= claims["exp"]:
            raise NotAuthenticated("The token has expired")
        if now < claims["nbf"]:
            raise NotAuthenticated("The token is not valid yet")
        if claims.get("typ") != token_type:
            raise NotAuthenticated(f"This is not an {token_type} token")
        return claims


ApiKeyResolver = Callable[[str], Awaitable[Principal | None]]

_bearer = HTTPBearer(auto_error=False, description="An access token from /token")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)


CallerLimit = Callable[[Principal], Awaitable[None]]


class Authenticator:
    """Who is calling: a bearer token or an API key, or 401.

    Every authenticated request also counts against the caller's general rate
    limit (`limit`), whatever the endpoint.
    """

    def __init__(
        self, tokens: TokenService, resolve_api_key: ApiKeyResolver, limit: CallerLimit
    ) -> None:
        self._tokens = tokens
        self._resolve_api_key = resolve_api_key
        self._limit = limit

    async def caller(self, request: Request) -> Principal:
        """The caller of `request`, read straight from its headers.

        For the busiest routes, which skip FastAPI's dependency resolution
        (`serve/booking/app.py` says why); the same rules as `dependency`,
        which the other routes use.
        """
        authorization = request.headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        bearer = credentials.strip() if scheme.lower() == "bearer" else ""
        return await self._identify(
            request, bearer or None, request.headers.get("x-api-key") or None
        )

    def dependency(self) -> Callable[..., Awaitable[Principal]]:
        """A FastAPI dependency yielding the caller; it also documents both
        schemes in OpenAPI."""

        async def authenticate(
            request: Request,
            bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
            api_key: Annotated[str | None, Depends(_api_key)],
        ) -> Principal:
            token = None if bearer is None else bearer.credentials
            return await self._identify(request, token, api_key)

        return authenticate

    async def _identify(
        self, request: Request, token: str | None, api_key: str | None
    ) -> Principal:
        if token is not None:
            principal = self._tokens.verify_access(token)
        elif api_key is not None:
            resolved = await self._resolve_api_key(api_key)
            if resolved is None:
                raise NotAuthenticated("The API key is not valid")
            principal = resolved
        else:
            raise NotAuthenticated("Send a bearer token or an X-API-Key")
        await self._limit(principal)
        request.state.principal = principal
        return principal


# What the busiest routes, which read their caller by hand, declare in OpenAPI
# so that their documentation matches the routes using `dependency`.
CALLER_SECURITY: list[dict[str, list[str]]] = [
    {_bearer.scheme_name: []},
    {_api_key.scheme_name: []},
]


def require_roles(
    authenticate: Callable[..., Awaitable[Principal]], *roles: str
) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits only callers holding one of `roles`."""

    async def check(
        principal: Annotated[Principal, Depends(authenticate)],
    ) -> Principal:
        if not principal.has_any(roles):
            raise Forbidden(
                f"This needs one of the roles: {', '.join(sorted(roles))}",
                required_roles=sorted(roles),
            )
        return principal

    return check


class TicketSigner:
    """Ticket codes: the ticket id and an HMAC of it, so codes are unforgeable.

    `purpose` keeps codes signed for one use (tickets, waiting-room places)
    from being accepted for another; the value must not contain a dot.
    """

    def __init__(self, secret: str, purpose: str = "ticket") -> None:
        self._key = hashlib.sha256(f"marquee-{purpose}:{secret}".encode()).digest()

    def code_for(self, ticket_id: str) -> str:
        return f"{ticket_id}.{self._mac(ticket_id)}"

    def ticket_id_of(self, code: str) -> str | None:
        """The ticket id inside a genuine code, or None for a forged one."""
        ticket_id, separator, mac = code.partition(".")
        if not separator or not hmac.compare_digest(mac, self._mac(ticket_id)):
            return None
        return ticket_id

    def _mac(self, ticket_id: str) -> str:
        digest = hmac.new(self._key, ticket_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()
