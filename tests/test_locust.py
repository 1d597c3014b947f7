"""Each locust scenario (loadtests/locustfile.py) runs headless for a few seconds against a real node
and finishes with requests made and 0 failures."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys

import pytest

from tests.nodes import ENTERPRISES, REPO, Node, free_port

LOCUSTFILE = REPO / "loadtests" / "locustfile.py"
# Each scenario gets a fixed four seconds; on a loaded machine locust's own start-up can eat them.
pytestmark = pytest.mark.serial  # a fixed time window: run alone


@pytest.fixture(scope="module")
def load_node(tmp_path_factory):
    from tests.nodes import init_data

    data = tmp_path_factory.mktemp("locust") / "data"
    init_data(data)
    port = free_port()
    n = Node(data, "--handle", f"127.0.0.1:{port}").start()
    n.handle_port = port  # type: ignore[attr-defined]
    yield n
    n.stop()


@pytest.mark.parametrize("user", ["EnterpriseIntegration", "Scanner", "HandleScanner", "TraceLookup"])
def test_scenario_runs_without_failures(load_node, tmp_path, user):
    locust = shutil.which("locust", path=os.path.dirname(sys.executable)) or shutil.which("locust")
    assert locust, "locust is in the test extra"
    env = dict(os.environ, IDNODE_LOCUST_PREFIX="88.101.5", IDNODE_LOCUST_SECRET=ENTERPRISES["88.101.5"],
               IDNODE_LOCUST_KNOWN="50", IDNODE_LOCUST_BATCH="50", IDNODE_LOCUST_TRACED="10",
               IDNODE_LOCUST_HANDLE=f"127.0.0.1:{load_node.handle_port}", PYTHONPATH=str(REPO))
    stats = tmp_path / "run"
    p = subprocess.run([locust, "-f", str(LOCUSTFILE), "--headless", "-u", "4", "-r", "4", "-t", "4s",
                        "--stop-timeout", "5", "--host", load_node.url, "--csv", str(stats), "--only-summary",
                        "--loglevel", "WARNING", user],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    with open(f"{stats}_stats.csv", newline="") as fh:
        rows = {r["Name"]: r for r in csv.DictReader(fh)}
    total = rows["Aggregated"]
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert int(total["Failure Count"]) == 0, p.stderr[-3000:]
    assert int(total["Request Count"]) > 10
