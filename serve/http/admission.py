"""Load shedding by priority: past capacity, refuse at once instead of queueing.

Each replica counts the requests it is working on. A request is admitted only
while that count is below its class's share of the replica's limit, so as load
rises browsing is refused first, then new holds, and payments and order
confirmations last: the work that turns held seats into money keeps going while
the rush is turned away at the door. A refusal is a `503 overloaded` with
`Retry-After`, decided before anything else runs, so it costs microseconds and
never waits.

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


# The share of the replica's limit each class may fill.
SHARES = {Priority.BROWSE: 0.5, Priority.HOLDS: 0.75, Priority.CRITICAL: 1.0}
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
    """The replica's in-flight count and the limit each class is held to."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the admission limit is at least 1")
        self.limit = limit
        self.in_flight = 0
        self._ceilings = {
            priority: max(1, int(limit * share)) for priority, share in SHARES.items()
        }
        self.shed = dict.fromkeys(Priority, 0)

    def ceiling(self, priority: Priority) -> int:
        return self._ceilings[priority]

    def try_enter(self, priority: Priority) -> bool:
        if self.in_flight >= self._ceilings[priority]:
            self.shed[priority] += 1
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        self.in_flight -= 1


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
            admission.leave()
