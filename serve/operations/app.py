"""`GET /readyz`: 200 only when the database, Redis and the booking path answer.

Liveness is each application's own `/healthz`; this checks the dependencies a
request needs, and names the one that failed.
"""

import asyncio
import logging

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from ray import serve
from ray.exceptions import RayError
from ray.serve.deployment import Application
from ray.serve.exceptions import RayServeException
from ray.serve.handle import DeploymentHandle
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from config.settings import Settings
from serve.http.platform import Platform, bind_deployment, create_app
from serve.http.problems import (
    PROBLEM_CONTENT_TYPE,
    PROBLEM_TYPE_PREFIX,
    ProblemRead,
)

logger = logging.getLogger(__name__)

ROUTE_PREFIX = "/readyz"
CHECK_TIMEOUT_S = 2.0


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@serve.deployment(name="operations")
@serve.ingress()
class OperationsDeployment:
    def __init__(self, settings: Settings, booking_app_name: str) -> None:
        self._platform = Platform(settings)
        self._booking_app_name = booking_app_name
        self._booking: DeploymentHandle | None = None

    async def _database(self) -> str:
        def ping() -> None:
            with self._platform.database.engine.connect() as connection:
                connection.execute(text("SELECT 1"))

        await asyncio.to_thread(ping)
        return "ok"

    async def _redis(self) -> str:
        if self._platform.redis is None:
            return "not configured"
        await self._platform.redis.ping()
        return "ok"

    async def _booking_path(self) -> str:
        if self._booking is None:
            self._booking = serve.get_deployment_handle(
                "booking", app_name=self._booking_app_name
            )
        await self._booking.ping.remote()
        return "ok"

    def __serve_build_asgi_app__(self) -> FastAPI:
        app = create_app(
            self._platform,
            route_prefix=ROUTE_PREFIX,
            title="Marquee operations",
            description="Readiness of the whole request path.",
        )
        checks = {
            "database": self._database,
            "redis": self._redis,
            "booking": self._booking_path,
        }

        @app.get(
            "",
            response_model=Readiness,
            responses={
                503: {
                    "description": "A dependency does not answer; it is named",
                    "model": ProblemRead,
                    "content": {PROBLEM_CONTENT_TYPE: {}},
                }
            },
            summary="Readiness",
        )
        async def readyz() -> Readiness | JSONResponse:
            results: dict[str, str] = {}
            for name, check in checks.items():
                try:
                    result = await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_S)
                except (
                    SQLAlchemyError,
                    RedisError,
                    RayError,
                    RayServeException,
                    OSError,
                    TimeoutError,
                ) as exc:
                    results[name] = f"failing: {type(exc).__name__}"
                else:
                    results[name] = result
            failing = sorted(
                name for name, result in results.items() if result.startswith("failing")
            )
            if not failing:
                return Readiness(status="ready", checks=results)
            logger.warning("not ready: %s", ", ".join(failing))
            return JSONResponse(
                {
                    "type": f"{PROBLEM_TYPE_PREFIX}not_ready",
                    "title": "Not ready",
                    "status": 503,
                    "detail": f"Failing: {', '.join(failing)}",
                    "code": "not_ready",
                    "checks": results,
                },
                status_code=503,
                headers={"Retry-After": "5"},
                media_type=PROBLEM_CONTENT_TYPE,
            )

        return app


def operations_application(settings: Settings, booking_app_name: str) -> Application:
    return bind_deployment(
        OperationsDeployment, settings, booking_app_name, num_replicas=1
    )
