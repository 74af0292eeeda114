"""Start Marquee on one machine with embedded defaults, and stop it cleanly.

Migrates the database, seeds the demo data, starts (or joins) a Ray cluster,
deploys the Serve applications behind the configured ingress and waits; Ctrl-C
or SIGTERM shuts down everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import ray
from ray import serve
from sqlalchemy.engine import make_url

from actors.directory import ShowtimeDirectory
from actors.errors import MarqueeError
from actors.showtime_actor import ActorOptions
from config.logging import configure_logging
from config.settings import Ingress, Settings, get_settings
from persistence import catalog_store
from persistence.database import Database
from persistence.demo import seed_demo_data
from persistence.schema import migrate
from serve.apps import APPLICATIONS, deploy

logger = logging.getLogger(__name__)

DASHBOARD_HOST = "127.0.0.1"
DASHBOARD_PORT = 8265

# Serve's HAProxy ingress, tuned for a small machine: one HAProxy thread leaves
# the cores to the replicas (measured in shared/RAY-NOTES.md, section 7).
HAPROXY_ENVIRONMENT = {
    "RAY_SERVE_ENABLE_HA_PROXY": "1",
    "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
    "RAY_SERVE_HAPROXY_NBTHREAD": "1",
    "RAY_SERVE_HAPROXY_METRICS_ENABLED": "0",
}
# On one machine HAProxy is the only load balancer and reloads in about a
# second, so a stopping replica need not stay reachable for Serve's default 30 s.
LOCAL_CLUSTER_ENVIRONMENT = {"RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "2"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def private_haproxy_environment(directory: Path, *, first_port: int) -> dict[str, str]:
    """The HAProxy ingress on ports and paths of its own, beside another one.

    For test and benchmark clusters on a machine where `make run` may be up:
    every listener HAProxy and Serve open moves off its default, replicas take
    ports from `first_port` on, and the sockets and config live in `directory`.
    """
    return {
        **HAPROXY_ENVIRONMENT,
        "RAY_SERVE_HAPROXY_STATS_PORT": str(free_port()),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(free_port()),
        "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT": str(free_port()),
        "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT": str(free_port()),
        "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": str(first_port),
        "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": str(first_port + 300),
        "RAY_SERVE_DIRECT_INGRESS_MIN_GRPC_PORT": str(first_port + 400),
        "RAY_SERVE_DIRECT_INGRESS_MAX_GRPC_PORT": str(first_port + 700),
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(directory / "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SOCKET_PATH": str(directory / "admin.sock"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(directory),
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(directory / "server-state"),
        "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": str(directory / "metrics.sock"),
        # A stopping replica stays reachable this long (30 s by default) so that
        # load balancers can deregister it; nothing here needs that.
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "0.5",
    }


class PortInUse(RuntimeError):
    pass


def main() -> int:
    settings = get_settings()
    configure_logging(settings.log_level, as_json=settings.log_json)
    check_port_free(settings.http_host, settings.http_port)

    migrate(settings.database_url)
    database = Database(settings.database_url, pool_size=1)
    with database.sessions.begin() as session:
        showtime_ids = seed_demo_data(session, datetime.now(UTC))
    database.dispose()
    logger.info("demo data ready: %d showtimes on sale", len(showtime_ids))

    start_ray(settings)
    # Installed after ray.init, which sets handlers of its own.
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    node_id = ray.get_runtime_context().get_node_id()
    try:
        start_serve(settings)
        deploy(settings)
        print_banner(settings, len(showtime_ids))
        warm_showtimes(settings)
        stop.wait()
    finally:
        logger.info("stopping")
        # Serve first: its HAProxy child otherwise outlives the cluster and
        # keeps the ports (shared/RAY-NOTES.md, section 7).
        serve.shutdown()
        ray.shutdown()
        if settings.ray_address is None:
            stop_orphaned_haproxy(node_id)
    return 0


def warm_showtimes(settings: Settings) -> threading.Thread | None:
    """Start the soonest showtimes' actors, one at a time, in the background.

    An actor takes about 1.5 s of CPU to start; when a load test or a rush
    reaches dozens of cold showtimes at once, their first requests can outlast
    Serve's request timeout. One at a time keeps the machine answering meanwhile.
    """
    if not settings.warm_showtimes:
        return None
    database = Database(settings.database_url, pool_size=1)
    with database.sessions.begin() as session:
        showtime_ids = catalog_store.soonest_on_sale(
            session, datetime.now(UTC), settings.warm_showtimes
        )
    database.dispose()
    directory = ShowtimeDirectory(
        ActorOptions.from_settings(settings), namespace=settings.ray_namespace
    )

    def warm() -> None:
        started = time.monotonic()
        for showtime_id in showtime_ids:
            outcome = asyncio.run(directory.seat_map(showtime_id))
            if isinstance(outcome, MarqueeError):
                logger.warning("showtime %s did not start: %s", showtime_id, outcome)
        logger.info(
            "%d showtimes warm in %.1f s", len(showtime_ids), time.monotonic() - started
        )

    thread = threading.Thread(target=warm, name="warm-showtimes", daemon=True)
    thread.start()
    return thread


def stop_orphaned_haproxy(node_id: str) -> None:
    """End an HAProxy this run started that outlived its cluster.

    When Serve's controller does not finish shutting down in time (seen under
    load), the HAProxy child of its manager survives `ray.shutdown()` and keeps
    the ports. Only processes whose config lies in this node's own directory
    are touched.
    """
    marker = f"/{node_id}/haproxy.cfg"
    for process in Path("/proc").glob("[0-9]*"):
        try:
            command = (process / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue  # Gone already, or not ours to read.
        if b"haproxy" in command and marker.encode() in command:
            logger.warning("stopping HAProxy %s left behind by Serve", process.name)
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(process.name), signal.SIGTERM)


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(
                f"{host}:{port} is taken; stop what uses it or set MARQUEE_HTTP_PORT"
            ) from exc


def ingress_environment(settings: Settings) -> dict[str, str]:
    if settings.ingress is not Ingress.HAPROXY:
        return {}
    if settings.ray_address is None:
        return {**HAPROXY_ENVIRONMENT, **LOCAL_CLUSTER_ENVIRONMENT}
    return HAPROXY_ENVIRONMENT


def start_ray(settings: Settings) -> None:
    if settings.ray_address is None:
        # A local cluster inherits this process's environment in every worker.
        os.environ.update(ingress_environment(settings))
    ray.init(
        address=settings.ray_address,
        namespace=settings.ray_namespace,
        include_dashboard=settings.ray_address is None,
        dashboard_host=DASHBOARD_HOST,
        dashboard_port=DASHBOARD_PORT,
    )


def start_serve(settings: Settings) -> None:
    environment = ingress_environment(settings)
    serve.start(
        http_options={
            "host": settings.http_host,
            "port": settings.http_port,
            "request_timeout_s": settings.request_timeout_s,
        },
        controller_options={"runtime_env": {"env_vars": environment}}
        if environment
        else None,
    )
    logger.info(
        "ingress: %s",
        "Serve's HAProxy ingress" if environment else "Serve's default HTTP proxy",
    )


def print_banner(settings: Settings, showtimes: int) -> None:
    base = f"http://{settings.http_host}:{settings.http_port}"
    lines = [
        "Marquee is running.",
        f"  ingress:    {settings.ingress.value} on {base}",
        *(f"  {app.name + ':':<11} {base}{app.route_prefix}" for app in APPLICATIONS),
        f"  API docs:   {base}/api/v1/booking/docs (one per application)",
        f"  database:   {make_url(settings.database_url).render_as_string()}",
        f"  redis:      {'configured' if settings.redis_url else 'none (in-process)'}",
        f"  showtimes:  {showtimes} on sale (demo data)",
    ]
    if settings.ray_address is None:
        lines.append(f"  dashboard:  http://{DASHBOARD_HOST}:{DASHBOARD_PORT}")
    lines.append("Press Ctrl-C to stop.")
    print("\n".join(lines), flush=True)
