"""Start Marquee on one machine with embedded defaults, and stop it cleanly.

Migrates the database, seeds the demo data, starts (or joins) a Ray cluster and
waits; Ctrl-C or SIGTERM shuts down everything it started.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from datetime import UTC, datetime
from types import FrameType

import ray

from actors.directory import ShowtimeDirectory
from actors.messages import SeatMapView
from actors.showtime_actor import ActorOptions
from config.logging import configure_logging
from config.settings import Settings, get_settings
from persistence.database import Database
from persistence.demo import seed_demo_data
from persistence.schema import migrate

logger = logging.getLogger(__name__)

DASHBOARD_HOST = "127.0.0.1"
DASHBOARD_PORT = 8265


def main() -> int:
    settings = get_settings()
    configure_logging(settings.log_level)

    migrate(settings.database_url)
    database = Database(settings.database_url, pool_size=1)
    with database.sessions.begin() as session:
        showtime_ids = seed_demo_data(session, datetime.now(UTC))
    database.dispose()
    logger.info("demo data ready: %d showtimes on sale", len(showtime_ids))

    started_cluster = settings.ray_address is None
    ray.init(
        address=settings.ray_address,
        namespace=settings.ray_namespace,
        include_dashboard=started_cluster,
        dashboard_host=DASHBOARD_HOST,
        dashboard_port=DASHBOARD_PORT,
    )
    # Installed after ray.init, which sets handlers of its own.
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        warm_up(settings, showtime_ids[0])
        print_banner(settings, started_cluster, len(showtime_ids))
        stop.wait()
    finally:
        logger.info("stopping")
        ray.shutdown()
    return 0


def warm_up(settings: Settings, showtime_id: str) -> None:
    """Activate one showtime actor, so that a broken set-up fails at start."""
    directory = ShowtimeDirectory(
        ActorOptions.from_settings(settings), namespace=settings.ray_namespace
    )
    view = asyncio.run(directory.seat_map(showtime_id))
    if not isinstance(view, SeatMapView):
        raise RuntimeError(f"showtime {showtime_id} did not start: {view}")
    logger.info(
        "showtime %s is live: %d seats free",
        showtime_id,
        view.available,
        extra={"showtime_id": showtime_id},
    )


def print_banner(settings: Settings, started_cluster: bool, showtimes: int) -> None:
    lines = [
        "Marquee is running.",
        f"  database:   {_redacted(settings.database_url)}",
        f"  showtimes:  {showtimes} on sale (demo data)",
    ]
    if started_cluster:
        lines.append(f"  dashboard:  http://{DASHBOARD_HOST}:{DASHBOARD_PORT}")
    lines.append("Press Ctrl-C to stop.")
    print("\n".join(lines), flush=True)


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
