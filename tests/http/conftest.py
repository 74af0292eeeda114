"""One Serve deployment of every application for the whole test session.

It runs behind Serve's HAProxy ingress, as in production, on ports and paths of
its own so that it cannot collide with a `make run` on the same machine.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from ray import serve

from config.settings import Settings
from persistence.schema import migrate
from serve.apps import deploy
from serve.launcher import free_port, private_haproxy_environment

ADMIN_EMAIL = "admin@marquee.test"
ADMIN_PASSWORD = "admin-password-for-tests"


@pytest.fixture(scope="session")
def http_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    database = tmp_path_factory.mktemp("http") / "marquee.db"
    url = f"sqlite:///{database}"
    migrate(url)
    return Settings(
        database_url=url,
        redis_url=None,
        http_port=free_port(),
        admin_email=ADMIN_EMAIL,
        admin_password=SecretStr(ADMIN_PASSWORD),
        rate_limit_register_per_minute=100_000,
        rate_limit_per_minute=100_000,
        booking_replicas=1,
        hold_ttl_s=480,
        # Tests read the seat map right after a change; no stale copies.
        seat_map_max_age_s=0,
        # Nor stale waiting-room settings: a test switches rooms on and off.
        waiting_room_refresh_s=0,
        graceful_shutdown_s=0.5,
        # Each test's showtime actor leaves soon after its test.
        actor_idle_s=20,
        ray_namespace=os.environ.get("MARQUEE_TEST_NAMESPACE", "marquee-http-test"),
    )


@pytest.fixture(scope="session")
def base_url(
    ray_cluster: str, http_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    # HAProxy refuses socket paths over 97 bytes, and Ray adds a node id to it.
    haproxy_directory = Path(tempfile.mkdtemp(prefix="mq-", dir="/tmp"))
    environment = private_haproxy_environment(haproxy_directory, first_port=32100)
    serve.start(
        http_options={"host": "127.0.0.1", "port": http_settings.http_port},
        controller_options={"runtime_env": {"env_vars": environment}},
    )
    deploy(http_settings)
    yield f"http://127.0.0.1:{http_settings.http_port}"
    serve.shutdown()
    shutil.rmtree(haproxy_directory, ignore_errors=True)


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        yield http


@dataclass(frozen=True)
class Account:
    user_id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def log_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return client.post(
        "/api/v1/users/token",
        data={"grant_type": "password", "username": email, "password": password},
    )


@pytest.fixture
def new_account(client: httpx.Client) -> Callable[..., Account]:
    """Register a fresh customer and log in; returns its tokens."""

    def create(name: str = "customer") -> Account:
        email = f"{name}-{uuid.uuid4().hex[:10]}@example.com"
        password = "a long enough password"
        registered = client.post(
            "/api/v1/users",
            json={"email": email, "password": password, "display_name": name},
        )
        assert registered.status_code == 201, registered.text
        tokens = log_in(client, email, password)
        assert tokens.status_code == 200, tokens.text
        body = tokens.json()
        return Account(
            user_id=registered.json()["id"],
            email=email,
            password=password,
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
        )

    return create


@pytest.fixture(scope="session")
def admin(base_url: str) -> Account:
    """The admin, logged in once: logins are rate limited per account."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        return _admin(client)


def _admin(client: httpx.Client) -> Account:
    tokens = log_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert tokens.status_code == 200, tokens.text
    me = client.get(
        "/api/v1/users/me",
        headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
    )
    return Account(
        user_id=me.json()["id"],
        email=ADMIN_EMAIL,
        password=ADMIN_PASSWORD,
        access_token=tokens.json()["access_token"],
        refresh_token=tokens.json()["refresh_token"],
    )
