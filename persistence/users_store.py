"""Repository for people and clients: users, refresh tokens, API keys.

Functions take a `Session` inside the caller's transaction and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from persistence.models import ApiKeyRecord, RefreshTokenRecord, UserRecord


class DuplicateEmail(Exception):
    pass


def add_user(
    session: Session,
    *,
    user_id: str,
    email: str,
    display_name: str,
    password_hash: str,
    roles: Sequence[str],
    now: datetime,
) -> UserRecord:
    """Add a user; raises `DuplicateEmail` if the email is registered already."""
    user = UserRecord(
        id=user_id,
        email=email.lower(),
        display_name=display_name,
        password_hash=password_hash,
        roles=list(roles),
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        raise DuplicateEmail(email) from exc
    return user


def user_by_email(session: Session, email: str) -> UserRecord | None:
    return session.scalar(select(UserRecord).where(UserRecord.email == email.lower()))


def user_by_id(session: Session, user_id: str) -> UserRecord | None:
    return session.get(UserRecord, user_id)


def add_refresh_token(
    session: Session,
    *,
    token_id: str,
    user_id: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    session.add(
        RefreshTokenRecord(
            id=token_id,
            user_id=user_id,
            issued_at=now,
            expires_at=expires_at,
            revoked_at=None,
            replaced_by=None,
        )
    )


def use_refresh_token(
    session: Session, *, token_id: str, replaced_by: str, now: datetime
) -> bool:
    """Spend a refresh token once: True if it was live and is now replaced.

    A conditional update, so two concurrent uses of one token cannot both win.
    """
    result = session.execute(
        update(RefreshTokenRecord)
        .where(
            RefreshTokenRecord.id == token_id,
            RefreshTokenRecord.revoked_at.is_(None),
            RefreshTokenRecord.expires_at > now,
        )
        .values(revoked_at=now, replaced_by=replaced_by)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def revoke_refresh_tokens(session: Session, *, user_id: str, now: datetime) -> None:
    """Revoke every live refresh token of a user (after a reuse is detected)."""
    session.execute(
        update(RefreshTokenRecord)
        .where(
            RefreshTokenRecord.user_id == user_id,
            RefreshTokenRecord.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


def add_api_key(
    session: Session,
    *,
    key_id: str,
    name: str,
    client_kind: str,
    roles: Sequence[str],
    secret_hash: str,
    created_by: str,
    now: datetime,
) -> ApiKeyRecord:
    record = ApiKeyRecord(
        id=key_id,
        name=name,
        client_kind=client_kind,
        roles=list(roles),
        secret_hash=secret_hash,
        created_by=created_by,
        created_at=now,
        expires_at=None,
        revoked_at=None,
        replaced_by=None,
    )
    session.add(record)
    return record


def live_api_key(
    session: Session, secret_hash: str, now: datetime
) -> ApiKeyRecord | None:
    record = session.scalar(
        select(ApiKeyRecord).where(ApiKeyRecord.secret_hash == secret_hash)
    )
    if record is None or record.revoked_at is not None:
        return None
    if record.expires_at is not None and record.expires_at <= now:
        return None
    return record


def api_keys(session: Session) -> list[ApiKeyRecord]:
    return list(session.scalars(select(ApiKeyRecord).order_by(ApiKeyRecord.created_at)))


def api_key(session: Session, key_id: str) -> ApiKeyRecord | None:
    return session.get(ApiKeyRecord, key_id)


def live_api_key_by_id(
    session: Session, key_id: str, now: datetime
) -> ApiKeyRecord | None:
    record = session.get(ApiKeyRecord, key_id)
    if record is None or record.revoked_at is not None:
        return None
    if record.expires_at is not None and record.expires_at <= now:
        return None
    return record
