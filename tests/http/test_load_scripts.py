"""The locust scripts run for a few seconds against the test deployment."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.http.catalog import add_showtime
from tests.http.conftest import Account

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("scenario", ["RushCustomer", "Browser"])
def test_a_scenario_runs_and_its_correctness_check_passes(
    base_url: str, admin: Account, tmp_path: Path, scenario: str
) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        add_showtime(client, admin, starts_in=timedelta(hours=1))
    prefix = tmp_path / "stats"

    run = subprocess.run(
        [
            sys.executable, "-m", "locust",
            "-f", str(ROOT / "load" / "locustfile.py"),
            "--headless", "--host", base_url,
            "--users", "3", "--spawn-rate", "3", "--run-time", "6s",
            "--csv", str(prefix), "--only-summary",
            # Refusals under load are answers, not script errors; the run's own
            # correctness check decides the exit code.
            "--exit-code-on-error", "0",
            scenario,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip

    assert run.returncode == 0, run.stderr[-3000:]
    assert "0 problems" in run.stderr
    with open(f"{prefix}_stats.csv", newline="") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    assert int(rows["sign up"]["Request Count"]) == 3
    expected = "hold" if scenario == "RushCustomer" else "movies"
    assert int(rows[expected]["Request Count"]) > 0
    assert int(rows[expected]["Failure Count"]) < int(rows[expected]["Request Count"])
