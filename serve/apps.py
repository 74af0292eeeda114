"""Marquee's Serve applications, each owning one route prefix.

`deploy` runs them all on the connected cluster. The builder functions at the
bottom are the import paths of `config/serve.yaml`, for operators who prefer
`serve deploy`; their `args` override settings read from the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ray import serve
from ray.serve.api import RunTarget
from ray.serve.deployment import Application

from config.settings import Settings
from serve.booking import app as booking_app
from serve.booking.app import booking_application
from serve.catalog import app as catalog_app
from serve.catalog.app import catalog_application
from serve.operations import app as operations_app
from serve.operations.app import operations_application
from serve.payments import app as payments_app
from serve.payments.app import payments_application
from serve.users import app as users_app
from serve.users.app import users_application


@dataclass(frozen=True, slots=True)
class ServeApplication:
    name: str
    route_prefix: str
    build: Callable[[Settings], Application]


APPLICATIONS = (
    ServeApplication("users", users_app.ROUTE_PREFIX, users_application),
    ServeApplication("catalog", catalog_app.ROUTE_PREFIX, catalog_application),
    ServeApplication("booking", booking_app.ROUTE_PREFIX, booking_application),
    ServeApplication("payments", payments_app.ROUTE_PREFIX, payments_application),
    ServeApplication(
        "operations",
        operations_app.ROUTE_PREFIX,
        lambda settings: operations_application(settings, "booking"),
    ),
)


def deploy(settings: Settings) -> None:
    """Deploy (or update in place) every application; returns once all run.

    One request for all of them, so their replicas start side by side and the
    ingress reloads its routes fewer times.
    """
    serve.run_many(
        [
            RunTarget(
                target=application.build(settings),
                name=application.name,
                route_prefix=application.route_prefix,
            )
            for application in APPLICATIONS
        ]
    )


def _settings(args: dict[str, Any]) -> Settings:
    return Settings(**args)


def users(args: dict[str, Any]) -> Application:
    return users_application(_settings(args))


def catalog(args: dict[str, Any]) -> Application:
    return catalog_application(_settings(args))


def booking(args: dict[str, Any]) -> Application:
    return booking_application(_settings(args))


def payments(args: dict[str, Any]) -> Application:
    return payments_application(_settings(args))


def operations(args: dict[str, Any]) -> Application:
    return operations_application(_settings(args), "booking")
