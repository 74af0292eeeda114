from __future__ import annotations

import subprocess
import sys
import time

from serve.launcher import stop_orphaned_haproxy


def sleeper(*arguments: str) -> subprocess.Popen[bytes]:
    """A process whose command line looks like an HAProxy's."""
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", *arguments]
    )


def test_only_the_haproxy_of_this_node_is_stopped() -> None:
    ours = sleeper("haproxy", "-f", "/tmp/haproxy-serve/node-ours/haproxy.cfg")
    theirs = sleeper("haproxy", "-f", "/tmp/haproxy-serve/node-theirs/haproxy.cfg")
    time.sleep(0.2)

    try:
        stop_orphaned_haproxy("node-ours")

        assert ours.wait(timeout=10) != 0
        assert theirs.poll() is None
    finally:
        for process in (ours, theirs):
            process.kill()
            process.wait()
