"""The HTTP API fuzzed from its own OpenAPI document (schemathesis) against a real node on loopback:
no answer is a server error (5xx), and every answer whose status and content type the document
describes has the body it describes.

The default run is bounded (a few examples an operation, about half a minute in all); IDNODE_SLOW=1
runs many more (see README, "Fuzzing the HTTP API").
"""

from __future__ import annotations

import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from protocol.codes import RC
from resolver.http.openapi import document
from tests.nodes import ADMIN_SECRET, NODE_PREFIX, Node, basic, init_data

LONG = os.environ.get("IDNODE_SLOW") == "1"
EXAMPLES = int(os.environ.get("IDNODE_FUZZ_EXAMPLES", 300 if LONG else 6))
# As the node admin, requests get past authentication into the operations themselves; anonymous,
# they meet the checks that come first.
CALLERS = {"node-admin": {"Authorization": basic(f"300:0.NA/{NODE_PREFIX}", ADMIN_SECRET)}, "anonymous": {}}

# POST / takes the Handle protocol's binary messages: hand schemathesis's bytes over as they are.
schemathesis.serializer.alias("application/x-hdl-message", "application/octet-stream")
# The document the node serves (test_openapi.py checks that it is this one and that it is valid).
schema = schemathesis.openapi.from_dict(document("fuzz"))


@pytest.fixture(scope="module")
def fuzz_node(tmp_path_factory):
    data = tmp_path_factory.mktemp("fuzz") / "data"
    init_data(data)
    node = Node(data).start()
    yield node
    node.stop()


@pytest.mark.parametrize("caller", list(CALLERS))
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_documented_answers(case, fuzz_node, caller):
    if case.path == "/api/replication/changes" and isinstance(case.query, dict) and "wait" in case.query:
        # A long poll waits up to 30 s for a change that will not come: keep each under a second.
        wait = case.query["wait"]
        case.query["wait"] = min(wait, 0.5) if isinstance(wait, int | float) else wait
    case.call_and_validate(base_url=fuzz_node.url, headers=CALLERS[caller], timeout=30,
                           checks=[not_a_server_error, response_schema_conformance])


@pytest.mark.parametrize("name,value", [("wait", "null"), ("wait", "nan"), ("wait", "inf"), ("wait", "-1"),
                                        ("after", str(1 << 70)), ("after", str(1 << 63)), ("page", str(1 << 64))])
def test_what_the_fuzzer_found_stays_fixed(fuzz_node, name, value):
    """On the change log's long poll, `wait=null` was a 500 (float() of it) and so was an `after` past
    64 bits (packing it); each is now a 400 that names the parameter."""
    path = "/api/handles?prefix=88.101" if name == "page" else "/api/replication/changes"
    r = requests.get(fuzz_node.url + path, params={name: value}, headers=CALLERS["node-admin"], timeout=10)
    assert (r.status_code, r.json()["responseCode"], r.json()["field"]) == (400, RC.INVALID_VALUE, name), r.text
