"""Marquee's load test: `locust -f load/locustfile.py --host http://127.0.0.1:8000`.

Runs every scenario; pick some with locust's class arguments, for example
`RushCustomer`. When the run stops it checks what the server acknowledged: no
seat sold twice and every confirmed order with its booking, and exits non-zero
otherwise.
"""

from __future__ import annotations

import logging
from typing import Any

from locust import events

from load.scenarios.abandoners import Abandoner
from load.scenarios.browse import Browser
from load.scenarios.common import LEDGER
from load.scenarios.mixed import MixedCustomer
from load.scenarios.rush import RushCustomer

__all__ = ["Abandoner", "Browser", "MixedCustomer", "RushCustomer"]

logger = logging.getLogger(__name__)


@events.quitting.add_listener
def check_correctness(environment: Any, **kwargs: Any) -> None:
    problems = LEDGER.problems()
    for problem in problems:
        logger.error("correctness: %s", problem)
    logger.info(
        "correctness: %d confirmed orders checked, %d problems",
        len(LEDGER.confirmed_orders),
        len(problems),
    )
    if problems:
        environment.process_exit_code = 1
