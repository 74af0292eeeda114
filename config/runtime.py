"""Interpreter settings a long-lived Marquee process applies as it starts.

Called once by each Serve replica (as its app starts serving) and each showtime
actor (before it restores its seat map).
"""

from __future__ import annotations

import gc

# Python's default is 700 allocations between young-generation collections.
GC_YOUNG_THRESHOLD = 50_000
GC_OLDER_THRESHOLDS = (50, 100)


def tune_garbage_collector() -> None:
    """Collect cyclic garbage less often, and never again scan what start-up built.

    A replica allocates thousands of short-lived objects per request, so at the
    default threshold it ran a collection every few requests, and the older
    generations' collections walked every module, class and function imported
    at start-up. Freezing those and raising the threshold gave the named churn
    2-7 % more holds/s in two A/B runs of `bench.rush --only named` (592 ->
    630 and 594 -> 609 holds/s). Reference counting still frees almost
    everything at once; only garbage in cycles waits longer.
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *GC_OLDER_THRESHOLDS)
