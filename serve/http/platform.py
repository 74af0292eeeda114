"""The per-replica services every application uses, and the app factory.

Each Serve replica builds one `Platform` in its constructor (never at import
time) and hands it to its routes. `create_app` gives every application the
same middleware, error handling, authentication and health endpoint.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ValidationError
from ray.serve.config import BackpressureConfig
from ray.serve.deployment import Application
from redis.asyncio import Redis
from sqlalchemy.orm import Session

from actors.directory import ShowtimeDirectory
from actors.showtime_actor import ActorOptions
from config.logging import configure_logging
from config.runtime import tune_garbage_collector
from config.settings import Settings
from persistence import users_store
from persistence.database import AsyncReader, Database
from serve.http.admission import (
    RETRY_AFTER_S,
    Admission,
    AdmissionMiddleware,
    Classifier,
    classifier,
)
from serve.http.auth import (
    Authenticator,
    Principal,
    PrincipalKind,
    TicketSigner,
    TokenService,
    hash_api_key,
    require_roles,
)
from serve.http.cache import ReadCache
from serve.http.limits import RateLimiter
from serve.http.middleware import PlatformMiddleware
from serve.http.problems import install_problem_handlers

logger = logging.getLogger(__name__)

# What a replica leaves of its request timeout for the rest of the request
# once a showtime has answered, and the least it waits for that answer.
ANSWER_MARGIN_S = 2.0
MIN_ANSWER_WITHIN_S = 1.0

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# Where OpenAPI documents keep named schemas.
SCHEMA_REF = "#/components/schemas/{model}"


class Health(BaseModel):
    status: str


class Platform:
    """Settings, database, tokens, limits and cache for one replica."""

    def __init__(self, settings: Settings) -> None:
        configure_logging(settings.log_level, as_json=settings.log_json)
        self.settings = settings
        self.database = Database(
            settings.database_url, pool_size=settings.database_pool_size
        )
        # Reads on the hot path that skip the worker thread (Postgres only).
        self.reads = (
            AsyncReader(settings.database_url)
            if AsyncReader.supports(settings.database_url)
            else None
        )
        self.redis: Redis | None = (
            Redis.from_url(
                settings.redis_url,
                socket_timeout=settings.redis_timeout_s,
                socket_connect_timeout=settings.redis_timeout_s,
            )
            if settings.redis_url
            else None
        )
        self.tokens = TokenService(
            settings.signing_keys(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            access_ttl_s=settings.access_token_ttl_s,
            refresh_ttl_s=settings.refresh_token_ttl_s,
        )
        self.tickets = TicketSigner(settings.ticket_signing_key.get_secret_value())
        self.limiter = RateLimiter(self.redis)
        self.admission = Admission(settings.admission_limit)
        self.cache = ReadCache(self.redis, ttl_s=settings.catalog_cache_ttl_s)
        self.authenticator = Authenticator(
            self.tokens, self.resolve_api_key, self.limit_caller
        )
        self.authenticate = self.authenticator.dependency()
        self.staff_only = require_roles(self.authenticate, "staff", "admin")
        self.admin_only = require_roles(self.authenticate, "admin")

    def showtime_directory(self) -> ShowtimeDirectory:
        """Showtime actors for this replica, answering before its request
        times out (a timeout would be Serve's bare 408, not a problem)."""
        settings = self.settings
        return ShowtimeDirectory(
            ActorOptions.from_settings(settings),
            namespace=settings.ray_namespace,
            answer_within_s=max(
                MIN_ANSWER_WITHIN_S, settings.request_timeout_s - ANSWER_MARGIN_S
            ),
        )

    async def transaction(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one database transaction, off the event loop."""

        def run() -> T:
            with self.database.sessions.begin() as session:
                return work(session)

        return await asyncio.to_thread(run)

    async def resolve_api_key(self, key: str) -> Principal | None:
        digest = hash_api_key(key)
        now = datetime.now(UTC)

        def find(session: Session) -> Principal | None:
            record = users_store.live_api_key(session, digest, now)
            if record is None:
                return None
            return Principal(
                subject_id=record.id,
                kind=PrincipalKind.API_KEY,
                roles=frozenset(record.roles),
            )

        # TODO: one database read per API-key request; a short in-process
        # cache would cut it, at the price of a delay before a revocation bites.
        return await self.transaction(find)

    async def limit(self, scope: str, subject: str, per_minute: int) -> None:
        await self.limiter.check(scope, subject, per_minute)

    async def limit_caller(self, principal: Principal) -> None:
        await self.limiter.check(
            "caller", principal.subject_id, self.settings.rate_limit_per_minute
        )

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        self.database.dispose()


def bind_deployment(
    deployment: Any,
    settings: Settings,
    *extra_args: object,
    num_replicas: int,
    max_ongoing_requests: int = 256,
) -> Application:
    """A deployment bound to its settings, with the options every app shares.

    Replicas ask for no CPU: they mostly wait on actors and the database, and
    a whole CPU each would not fit on a small machine. A stopping replica may
    linger `graceful_shutdown_s`.
    """
    bound: Application = deployment.options(
        num_replicas=num_replicas,
        max_ongoing_requests=max_ongoing_requests,
        # The outer bound; requests past it never reach the app.
        max_queued_requests=settings.max_queued_requests,
        backpressure_config=BackpressureConfig(
            status_code=503, retry_after_s=RETRY_AFTER_S
        ),
        ray_actor_options={"num_cpus": 0},
        graceful_shutdown_timeout_s=settings.graceful_shutdown_s,
        graceful_shutdown_wait_loop_s=min(2.0, settings.graceful_shutdown_s),
        logging_config={"enable_access_log": settings.access_log},
    ).bind(settings, *extra_args)
    return bound


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def read_json_body(request: Request, model: type[M]) -> M:
    """The request's JSON body as `model`, for routes that read it by hand.

    A bad body is the same 422 as FastAPI's own, field paths under `body`.
    """
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        issues = [
            {**issue, "loc": ("body", *issue["loc"])}
            for issue in exc.errors(include_url=False)
        ]
        raise RequestValidationError(issues) from exc


def create_app(
    platform: Platform,
    *,
    title: str,
    description: str,
    route_prefix: str,
    behind_serve: bool = True,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    classify: Classifier | None = None,
    documented_models: Sequence[type[BaseModel]] = (),
) -> FastAPI:
    """A FastAPI app with Marquee's middleware, error handling and health check.

    `behind_serve` is False only where no Serve proxy or replica wraps the app
    (in-process tests), which then echo the request id themselves. `classify`
    gives each request its shedding priority (`serve.http.admission`).
    `documented_models` go into the OpenAPI components for routes that read
    their body by hand and refer to them from `openapi_extra`.
    """
    settings = platform.settings

    @asynccontextmanager
    async def serving(app: FastAPI) -> AsyncIterator[None]:
        # The app and its routes are built by now: what start-up made is
        # frozen out of the collector before the first request.
        tune_garbage_collector()
        if lifespan is None:
            yield
        else:
            async with lifespan(app):
                yield

    app = FastAPI(
        title=title,
        description=description,
        version="1",
        root_path_in_servers=False,
        lifespan=serving,
    )

    def openapi() -> dict[str, Any]:
        # Serve strips the route prefix before the app sees a path, so the
        # app's own paths are relative (even empty, which OpenAPI forbids).
        # Clients get absolute paths on one server instead.
        if app.openapi_schema is None:
            document = get_openapi(
                title=title,
                version=app.version,
                description=description,
                routes=app.routes,
            )
            document["paths"] = {
                f"{route_prefix}{path}": item
                for path, item in document.get("paths", {}).items()
            }
            document["servers"] = [{"url": "/"}]
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for model in documented_models:
                schema = model.model_json_schema(ref_template=SCHEMA_REF)
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    install_problem_handlers(app)
    origins = settings.cors_origins()
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key",
                           "X-API-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )  # fmt: skip
    # Inside PlatformMiddleware, so that a refusal still carries the request id
    # and security headers.
    app.add_middleware(
        AdmissionMiddleware,
        admission=platform.admission,
        classify=classify or classifier(),
    )
    app.add_middleware(
        PlatformMiddleware,
        max_body_bytes=settings.max_request_body_bytes,
        behind_serve=behind_serve,
    )

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> Health:
        """Liveness: answers without touching any dependency."""
        return Health(status="ok")

    return app
