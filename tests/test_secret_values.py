"""Secret values are for a handle's administrators only, whatever their permission bits say (issue 14,
item 8): a member's HS_SECKEY and a private key put without ``permissions`` (so with the default, public
read), then asked for anonymously over every read path there is."""

from __future__ import annotations

import itertools

import pytest
import requests

from protocol import bodies as b
from protocol.codes import RC
from protocol.envelope import PO, Op
from protocol.message import decode_message, encode
from tests.handle_nodes import client, start
from tests.nodes import ENTERPRISES, basic

OWNER = {"Authorization": basic("300:0.NA/88.101.5", ENTERPRISES["88.101.5"])}
HANDLE = "88.101.5/ALICE"
PEM = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIO8kqGxv6H4hXQeuX1nK0wW4d4B0bXk3o5fQ2t9r1Zyp\n-----END PRIVATE KEY-----\n"
SECRET_MARKS = (b"scrypt:", b"PRIVATE KEY")


@pytest.fixture(scope="module")
def hnode(tmp_path_factory):
    from tests.nodes import init_data

    data = tmp_path_factory.mktemp("secrets") / "data"
    init_data(data)
    node = start(data)
    r = requests.put(node.api(HANDLE), headers=OWNER, json={"values": [
        {"index": 1, "type": "URL", "data": "https://example.com/alice"},
        {"index": 300, "type": "HS_SECKEY", "data": "member-secret-1"},
        {"index": 301, "type": "hs_seckey", "data": "lower-case-type-2"},
        {"index": 400, "type": "KEY", "data": PEM}]})
    assert r.status_code == 201, r.text
    yield node
    node.stop()


def leaks(raw: bytes) -> bool:
    return any(mark in raw for mark in SECRET_MARKS)


FILTERS = [{}, {"type": "HS_SECKEY"}, {"index": "300"}, {"index": "301"}, {"type": "KEY"}, {"index": "400"}]


@pytest.mark.parametrize("params", FILTERS)
def test_rest_and_pages_never_show_a_secret_to_anyone_but_the_admins(hnode, params):
    def get(path: str, params: dict, **headers) -> requests.Response:
        return requests.get(f"{hnode.url}{path}", params=params, headers=headers, allow_redirects=False)

    answers = [
        get(f"/api/handles/{HANDLE}", params),
        get(f"/{HANDLE}", {"noredirect": "", **params}),
        get(f"/{HANDLE}", params, Accept="application/json"),
        get("/scan", {"code": HANDLE, "noredirect": "", **params}),
        get("/scan", {"code": HANDLE, **params}, Accept="application/json"),
        get(f"/trace/{HANDLE}", {}),
    ]
    for r in answers:
        assert not leaks(r.content), (r.url, r.status_code, r.text[:300])
    # The handle's administrator reads them all.
    mine = requests.get(hnode.api(HANDLE), headers=OWNER).json()["values"]
    assert {v["index"] for v in mine} >= {1, 300, 301, 400}


QUERIES = [((), ()), ((300,), ()), ((301,), ()), ((), ("HS_SECKEY",)), ((400,), ()), ((), ("KEY",))]


@pytest.mark.parametrize(("query", "public_only"), list(itertools.product(QUERIES, [False, True])))
def test_the_handle_protocol_never_sends_a_secret_to_an_anonymous_client(hnode, query, public_only):
    indexes, types = query
    cli = client(hnode)
    msg = cli.message(Op.RESOLUTION, b.ResolutionRequest(HANDLE, indexes, types), PO if public_only else 0)
    answers = [cli.udp(msg), cli.tcp(msg)]
    tunnel = requests.post(hnode.url + "/", data=encode(msg), headers={"Content-Type": "application/x-hdl-message"})
    answers.append(decode_message(tunnel.content))
    for ans in answers:
        values = getattr(ans.body, "values", ())
        assert not any(v.type.upper() in ("HS_SECKEY", "KEY") for v in values), (query, public_only, ans.rc)
        assert not any(leaks(v.data) for v in values)
        # Asked for the secret only: a challenge (no rights shown), or nothing that matches.
        if indexes or types:
            assert ans.rc in (RC.AUTHENTICATION_NEEDED, RC.VALUES_NOT_FOUND), ans.rc
