"""Load shedding by priority: past capacity, refuse at once instead of queueing.

Each replica counts the requests it is working on, in two pools: *work* (holds,
releases, orders, payments: what reaches an actor or the database) and
*browsing* (seat maps from the replica's copy, catalog reads, waiting-room
polls: cheap). Of the replica's `limit`:

- payments, orders, releases, cancellations and check-in are admitted while
  work in flight is below the limit;
- new holds while work is below five eighths of it, so that the requests that
  turn held seats into money always find room;
- browsing while browsing in flight is below three quarters of it *and* new
  holds are still being admitted: it has a budget of its own, since it is
  cheap, but it is refused as soon as holds are.

Bounding the work in flight is what bounds the latency of what is admitted. A
refusal is a `503 overloaded` with `Retry-After`, decided before anything else
runs.

Serve's own bound sits outside this one: `max_ongoing_requests` and
`max_queued_requests` on each deployment (see `bind_deployment`) cap what
reaches the app at all, answering 503 with `Retry-After` themselves.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from actors.errors import Overloaded
from serve.http.problems import problem_response

RETRY_AFTER_S = 1


class Priority(enum.IntEnum):
    BROWSE = 0
    HOLDS = 1
    CRITICAL = 2


# Of the replica's limit: the work in flight below which holds and critical
# requests are admitted, and browsing's own budget.
HOLDS_SHARE = 5 / 8
BROWSE_SHARE = 3 / 4
# Liveness and Serve's own routes are never shed: a replica refusing its health
# checks would be taken out of rotation just when it is busiest.
_NEVER_SHED = re.compile(r"(^|/)healthz$|^/-/")


@dataclass(frozen=True, slots=True)
class Rule:
    method: str
    path: re.Pattern[str]
    priority: Priority


def rule(method: str, path_suffix: str, priority: Priority) -> Rule:
    """A rule for paths ending in `path_suffix` (a regular expression).

    Suffixes, because whether a path still carries the route prefix depends on
    where in Serve's stack it is read.
    """
    return Rule(method, re.compile(f"{path_suffix}$"), priority)


Classifier = Callable[[str, str], Priority]


def classifier(
    rules: Sequence[Rule] = (), default: Priority | None = None
) -> Classifier:
    """First matching rule wins; otherwise reads browse and writes hold."""

    def classify(method: str, path: str) -> Priority:
        for candidate in rules:
            if candidate.method == method and candidate.path.search(path):
                return candidate.priority
        if default is not None:
            return default
        return Priority.BROWSE if method in ("GET", "HEAD") else Priority.HOLDS

    return classify


class Admission:
    """The replica's requests in flight, by pool, and the ceilings they obey."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the admission limit is at least 1")
        self.limit = limit
        self.work = 0
        self.browsing = 0
        self.holds_ceiling = max(1, int(limit * HOLDS_SHARE))
        self.browse_ceiling = max(1, int(limit * BROWSE_SHARE))
        self.shed = dict.fromkeys(Priority, 0)

    @property
    def in_flight(self) -> int:
        return self.work + self.browsing

    def try_enter(self, priority: Priority) -> bool:
        if priority is Priority.CRITICAL:
            admitted = self.work < self.limit
        elif priority is Priority.HOLDS:
            admitted = self.work < self.holds_ceiling
        else:
            admitted = (
                self.browsing < self.browse_ceiling and self.work < self.holds_ceiling
            )
        if not admitted:
            self.shed[priority] += 1
            return False
        if priority is Priority.BROWSE:
            self.browsing += 1
        else:
            self.work += 1
        return True

    def leave(self, priority: Priority) -> None:
        if priority is Priority.BROWSE:
            self.browsing -= 1
        else:
            self.work -= 1


class AdmissionMiddleware:
    """Plain ASGI: classify, admit or refuse, and count the admitted out again."""

    def __init__(
        self, app: ASGIApp, *, admission: Admission, classify: Classifier
    ) -> None:
        self.app = app
        self.admission = admission
        self.classify = classify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or _NEVER_SHED.search(path):
            await self.app(scope, receive, send)
            return
        priority = self.classify(scope["method"], path)
        admission = self.admission
        if not admission.try_enter(priority):
            refusal = Overloaded(
                "Too many requests are in progress; retry after a moment",
                retry_after_s=RETRY_AFTER_S,
            )
            await problem_response(refusal)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            admission.leave(priority)
