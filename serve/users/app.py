"""The users application at `/api/v1/users`."""

# NOTE: no `from __future__ import annotations` in route modules: FastAPI reads
# the dependency aliases defined inside `install_routes` from annotations, and
# postponed annotations would make it look for them at module level.

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, FastAPI, Form, Request, Response, status
from ray import serve
from ray.serve.deployment import Application
from sqlalchemy.orm import Session

from actors.errors import (
    ApiKeyNotFound,
    EmailTaken,
    InvalidCredentials,
    NotFound,
    ValidationFailed,
)
from config.settings import Settings
from persistence import users_store
from persistence.models import ApiKeyRecord, UserRecord
from serve.http.auth import (
    Principal,
    PrincipalKind,
    Role,
    hash_api_key,
    hash_password,
    hash_password_blocking,
    new_api_key,
    verify_password,
)
from serve.http.platform import (
    Platform,
    bind_deployment,
    client_address,
    create_app,
)
from serve.http.problems import problems
from serve.users.schemas import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyRead,
    RolesUpdate,
    TokenRead,
    UserCreate,
    UserRead,
)

logger = logging.getLogger(__name__)

ROUTE_PREFIX = "/api/v1/users"


def _user_read(user: UserRecord) -> UserRead:
    return UserRead(
        id=user.id, email=user.email, display_name=user.display_name, roles=user.roles
    )


def _api_key_read(record: ApiKeyRecord) -> ApiKeyRead:
    return ApiKeyRead(
        id=record.id,
        name=record.name,
        client_kind=record.client_kind,
        roles=record.roles,
        created_at=record.created_at,
        expires_at=record.expires_at,
        revoked_at=record.revoked_at,
    )


def install_routes(app: FastAPI, platform: Platform) -> None:
    settings = platform.settings
    Caller = Annotated[Principal, Depends(platform.authenticate)]
    Admin = Annotated[Principal, Depends(platform.admin_only)]

    @app.post(
        "",
        status_code=status.HTTP_201_CREATED,
        responses=problems(409),
        summary="Register a customer",
    )
    async def register(body: UserCreate, request: Request) -> UserRead:
        await platform.limit(
            "register", client_address(request), settings.rate_limit_register_per_minute
        )
        password_hash = await hash_password(body.password)
        now = datetime.now(UTC)

        def add(session: Session) -> UserRecord:
            return users_store.add_user(
                session,
                user_id=uuid.uuid4().hex,
                email=body.email,
                display_name=body.display_name,
                password_hash=password_hash,
                roles=[Role.CUSTOMER],
                now=now,
            )

        try:
            user = await platform.transaction(add)
        except users_store.DuplicateEmail as exc:
            raise EmailTaken(
                "An account with this email exists already", email=body.email
            ) from exc
        logger.info("user %s registered", user.id)
        return _user_read(user)

    @app.post("/token", responses=problems(401), summary="OAuth2 token endpoint")
    async def token(
        grant_type: Annotated[str, Form()],
        username: Annotated[str | None, Form()] = None,
        password: Annotated[str | None, Form()] = None,
        refresh_token: Annotated[str | None, Form()] = None,
    ) -> TokenRead:
        """`grant_type=password` with username and password, or
        `grant_type=refresh_token` with a refresh token (which is spent)."""
        if grant_type == "password":
            if not username or password is None:
                raise ValidationFailed("The password grant needs username and password")
            await platform.limit(
                "login", username.lower(), settings.rate_limit_login_per_minute
            )
            user = await platform.transaction(
                lambda session: users_store.user_by_email(session, username)
            )
            matched = await verify_password(
                password, user.password_hash if user else None
            )
            if user is None or not matched:
                raise InvalidCredentials("Unknown email or wrong password")
            return await _issue_tokens(user)
        if grant_type == "refresh_token":
            if not refresh_token:
                raise ValidationFailed("The refresh_token grant needs refresh_token")
            return await _refresh(refresh_token)
        raise ValidationFailed(
            "grant_type must be password or refresh_token", grant_type=grant_type
        )

    async def _issue_tokens(user: UserRecord) -> TokenRead:
        access = platform.tokens.issue_access(user.id, user.roles)
        refresh = platform.tokens.issue_refresh(user.id)
        now = datetime.now(UTC)
        expires_at = now + timedelta(seconds=platform.tokens.refresh_ttl_s)
        await platform.transaction(
            lambda session: users_store.add_refresh_token(
                session,
                token_id=refresh.token_id,
                user_id=user.id,
                now=now,
                expires_at=expires_at,
            )
        )
        return TokenRead(
            access_token=access.token,
            expires_in=access.expires_in_s,
            refresh_token=refresh.token,
        )

    async def _refresh(token: str) -> TokenRead:
        user_id, token_id = platform.tokens.verify_refresh(token)
        next_refresh = platform.tokens.issue_refresh(user_id)
        now = datetime.now(UTC)
        expires_at = now + timedelta(seconds=platform.tokens.refresh_ttl_s)

        def spend(session: Session) -> UserRecord | None:
            spent = users_store.use_refresh_token(
                session, token_id=token_id, replaced_by=next_refresh.token_id, now=now
            )
            if not spent:
                # A refresh token used twice was probably stolen: end every
                # session of that user.
                users_store.revoke_refresh_tokens(session, user_id=user_id, now=now)
                return None
            users_store.add_refresh_token(
                session,
                token_id=next_refresh.token_id,
                user_id=user_id,
                now=now,
                expires_at=expires_at,
            )
            return users_store.user_by_id(session, user_id)

        user = await platform.transaction(spend)
        if user is None:
            raise InvalidCredentials("The refresh token was already used or revoked")
        access = platform.tokens.issue_access(user.id, user.roles)
        return TokenRead(
            access_token=access.token,
            expires_in=access.expires_in_s,
            refresh_token=next_refresh.token,
        )

    @app.get("/me", responses=problems(401, 404), summary="The caller's account")
    async def me(caller: Caller) -> UserRead:
        if caller.kind is not PrincipalKind.USER:
            raise NotFound("API clients have no user account")
        user = await platform.transaction(
            lambda session: users_store.user_by_id(session, caller.subject_id)
        )
        if user is None:
            raise NotFound("The account no longer exists")
        return _user_read(user)

    @app.put(
        "/{user_id}/roles",
        responses=problems(401, 403, 404),
        summary="Set a user's roles (admin)",
    )
    async def set_roles(user_id: str, body: RolesUpdate, admin: Admin) -> UserRead:
        def update(session: Session) -> UserRecord | None:
            user = users_store.user_by_id(session, user_id)
            if user is not None:
                user.roles = sorted(set(body.roles))
            return user

        user = await platform.transaction(update)
        if user is None:
            raise NotFound("No such user", user_id=user_id)
        logger.info("admin %s set roles of %s", admin.subject_id, user_id)
        return _user_read(user)

    @app.post(
        "/api-keys",
        status_code=status.HTTP_201_CREATED,
        responses=problems(401, 403),
        summary="Create a partner or kiosk API key (admin)",
    )
    async def create_api_key(body: ApiKeyCreate, admin: Admin) -> ApiKeyIssued:
        key = new_api_key()
        now = datetime.now(UTC)
        record = await platform.transaction(
            lambda session: users_store.add_api_key(
                session,
                key_id=uuid.uuid4().hex,
                name=body.name,
                client_kind=body.client_kind,
                roles=[body.client_kind],
                secret_hash=hash_api_key(key),
                created_by=admin.subject_id,
                now=now,
            )
        )
        return ApiKeyIssued(**_api_key_read(record).model_dump(), key=key)

    @app.get("/api-keys", responses=problems(401, 403), summary="List API keys (admin)")
    async def list_api_keys(admin: Admin) -> list[ApiKeyRead]:
        records = await platform.transaction(users_store.api_keys)
        return [_api_key_read(record) for record in records]

    @app.delete(
        "/api-keys/{key_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=problems(401, 403, 404),
        summary="Revoke an API key now (admin)",
    )
    async def revoke_api_key(key_id: str, admin: Admin) -> Response:
        now = datetime.now(UTC)

        def revoke(session: Session) -> bool:
            record = users_store.api_key(session, key_id)
            if record is None:
                return False
            record.revoked_at = record.revoked_at or now
            return True

        if not await platform.transaction(revoke):
            raise ApiKeyNotFound("No such API key", api_key_id=key_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @app.post(
        "/api-keys/{key_id}/rotate",
        status_code=status.HTTP_201_CREATED,
        responses=problems(401, 403, 404),
        summary="Replace an API key; the old one works for a grace period (admin)",
    )
    async def rotate_api_key(key_id: str, admin: Admin) -> ApiKeyIssued:
        key = new_api_key()
        now = datetime.now(UTC)
        grace = timedelta(seconds=settings.api_key_rotation_grace_s)

        def rotate(session: Session) -> ApiKeyRecord | None:
            old = users_store.live_api_key_by_id(session, key_id, now)
            if old is None:
                return None
            new = users_store.add_api_key(
                session,
                key_id=uuid.uuid4().hex,
                name=old.name,
                client_kind=old.client_kind,
                roles=old.roles,
                secret_hash=hash_api_key(key),
                created_by=admin.subject_id,
                now=now,
            )
            old.expires_at = now + grace
            old.replaced_by = new.id
            return new

        record = await platform.transaction(rotate)
        if record is None:
            raise ApiKeyNotFound("No such live API key", api_key_id=key_id)
        return ApiKeyIssued(**_api_key_read(record).model_dump(), key=key)


def ensure_admin(platform: Platform) -> None:
    """Create the configured admin once, if both email and password are set."""
    settings = platform.settings
    if not settings.admin_email or settings.admin_password is None:
        return
    email = settings.admin_email
    try:
        with platform.database.sessions.begin() as session:
            if users_store.user_by_email(session, email) is not None:
                return
            users_store.add_user(
                session,
                user_id=uuid.uuid4().hex,
                email=email,
                display_name="Administrator",
                password_hash=hash_password_blocking(
                    settings.admin_password.get_secret_value()
                ),
                roles=[Role.ADMIN, Role.STAFF, Role.CUSTOMER],
                now=datetime.now(UTC),
            )
    except users_store.DuplicateEmail:
        return  # Another replica won the race; the admin exists.
    logger.info("created the admin account %s", email)


@serve.deployment(name="users")
@serve.ingress()
class UsersDeployment:
    def __init__(self, settings: Settings) -> None:
        self._platform = Platform(settings)
        ensure_admin(self._platform)

    def __serve_build_asgi_app__(self) -> FastAPI:
        app = create_app(
            self._platform,
            route_prefix=ROUTE_PREFIX,
            title="Marquee users",
            description="Sign-up, OAuth2 tokens, roles and API keys.",
        )
        install_routes(app, self._platform)
        return app


def users_application(settings: Settings) -> Application:
    return bind_deployment(UsersDeployment, settings, num_replicas=settings.replicas)
