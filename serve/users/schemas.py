"""HTTP bodies of the users application."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Deliberately loose: the address is proven by mail, not by a pattern.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")


class Strict(BaseModel):
    """Unknown fields are refused, so a client cannot slip in roles or owners."""

    model_config = ConfigDict(extra="forbid")


class UserCreate(Strict):
    email: str = Field(max_length=320, examples=["ada@example.com"])
    password: str = Field(min_length=10, max_length=128)
    display_name: str = Field(min_length=1, max_length=100)

    @field_validator("email")
    @classmethod
    def email_looks_like_one(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("not an email address")
        return value.lower()


class UserRead(BaseModel):
    id: str
    email: str
    display_name: str
    roles: list[str]


class RolesUpdate(Strict):
    roles: list[Literal["customer", "staff", "admin"]] = Field(min_length=1)


class TokenRead(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    client_kind: Literal["partner", "kiosk"]


class ApiKeyRead(BaseModel):
    id: str
    name: str
    client_kind: str
    roles: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyIssued(ApiKeyRead):
    key: str = Field(description="Shown once; only a hash is stored.")
