from __future__ import annotations

import os
import sys

import pytest

from tests.nodes import ADMIN_SECRET, ENTERPRISES, NODE_PREFIX, REPO, Node, basic, init_data

# Every node and every CLI call a test starts is a new Python process. Where PYTHONDONTWRITEBYTECODE is
# set (many containers set it), each of them would compile the project's ~180 modules again (about half
# a second of CPU, thousands of times in a run), and pytest would rewrite every test module on each run.
# Bytecode is kept in build/pycache instead (ignored by git, removed by `make clean`; `make test` sets the
# same before pytest starts), shared by the xdist workers: Python writes .pyc files atomically.
if os.environ.get("PYTHONDONTWRITEBYTECODE"):
    os.environ.pop("PYTHONDONTWRITEBYTECODE")
    sys.pycache_prefix = os.environ.setdefault("PYTHONPYCACHEPREFIX", str(REPO / "build" / "pycache"))
    sys.dont_write_bytecode = False


@pytest.fixture(scope="session")
def seeded(tmp_path_factory):
    """A data folder initialised once: node prefix 88.101, enterprises 88.101.5 and 88.101.6."""
    data = tmp_path_factory.mktemp("seed") / "data"
    init_data(data)
    return data


@pytest.fixture
def fresh_data(seeded, tmp_path):
    """A private copy of the seeded folder, so a test's writes stay its own."""
    import shutil

    dst = tmp_path / "data"
    shutil.copytree(seeded, dst)
    return dst


@pytest.fixture
def node(fresh_data):
    n = Node(fresh_data).start()
    yield n
    n.stop()


@pytest.fixture(scope="module")
def shared_node(tmp_path_factory):
    """One node for a module whose tests do not disturb each other."""
    data = tmp_path_factory.mktemp("shared") / "data"
    init_data(data)
    n = Node(data).start()
    yield n
    n.stop()


@pytest.fixture(scope="session")
def auth():
    """Authorization headers for each kind of caller."""
    return {
        "admin": {"Authorization": basic(f"300:0.NA/{NODE_PREFIX}", ADMIN_SECRET)},
        "owner": {"Authorization": basic("300:0.NA/88.101.5", ENTERPRISES["88.101.5"])},
        "other": {"Authorization": basic("300:0.NA/88.101.6", ENTERPRISES["88.101.6"])},
        "wrong": {"Authorization": basic("300:0.NA/88.101.5", "not-the-secret")},
        "none": {},
    }


def pytest_collection_modifyitems(config, items):
    """Long scale and soak runs (marked slow) run only with IDNODE_SLOW=1; CI runs their short forms."""
    if os.environ.get("IDNODE_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="long run: set IDNODE_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def svc(fresh_data):
    """The service over a private copy of the seeded folder, in this process (no node started)."""
    from resolver.service import Service
    from storage import GroupCommitter, Store

    store = Store(fresh_data)
    s = Service(store, GroupCommitter(store))
    yield s
    s.committer.close()
    store.close()
