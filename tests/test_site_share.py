"""A site of two servers (RFC 3652): identifiers land on the server the hash names; either server, or
a client that reads the site's HS_SITE, finds every one; a server asked for a handle it does not hold
refers the client to the one that does."""

from __future__ import annotations

import requests

from protocol.bodies import GenericRequest
from protocol.codes import RC
from protocol.envelope import Op
from protocol.site import HASH_BY_ALL, Site, server_number
from resolver.handleclient import HandleClient
from tests.nodes import ENTERPRISES, Node, basic, free_port, init_data

JSON = {"Content-Type": "application/json"}
OWNER = {"Authorization": basic("300:0.NA/88.101.5", ENTERPRISES["88.101.5"])}


def test_two_server_site_spreads_and_finds_every_identifier(tmp_path):
    ports = [(free_port(), free_port()) for _ in range(2)]  # (handle, http) per server
    site = [f"--site-server=127.0.0.1:{h}:{w}" for h, w in ports]
    servers = []
    for n in (1, 2):
        init_data(tmp_path / f"s{n}")  # both hold the prefixes and identities (every server needs them)
        node = Node(tmp_path / f"s{n}", "--handle", f"127.0.0.1:{ports[n - 1][0]}", *site,
                    "--server-number", str(n))
        node.port, node.url = ports[n - 1][1], f"http://127.0.0.1:{ports[n - 1][1]}"
        servers.append(node.start())
    try:
        handles = [f"88.101.5/PART-{i:03d}" for i in range(24)]
        for i, h in enumerate(handles):
            body = {"values": [{"index": 1, "type": "URL", "data": f"https://example.com/{h}"}]}
            # Written through either server: the wrong one redirects to the right one, writing nothing.
            r = requests.put(servers[i % 2].api(h), json=body, headers={**JSON, **OWNER}, allow_redirects=False)
            holder = server_number(h, HASH_BY_ALL, 2)
            if i % 2 != holder:
                assert r.status_code == 307 and r.json()["responseCode"] == RC.SERVICE_REFERRAL, r.text
                assert r.headers["Location"] == servers[holder].api(h)
                r = requests.put(r.headers["Location"], json=body, headers={**JSON, **OWNER})
            assert r.status_code == 201, r.text
        placed = [server_number(h, HASH_BY_ALL, 2) for h in handles]
        assert 0 < sum(placed) < len(handles), "the hash put everything on one server"
        for h, n in zip(handles, placed, strict=True):
            # Each server holds exactly its share …
            assert requests.get(servers[n].api(h), allow_redirects=False).status_code == 200
            r = requests.get(servers[1 - n].api(h), allow_redirects=False)
            assert r.status_code == 307 and r.headers["Location"] == servers[n].api(h)
            # … and resolution through either server finds every identifier.
            for s in servers:
                assert requests.get(s.api(h)).json()["values"][0]["data"]["value"] == f"https://example.com/{h}"
        # A Handle client reads the site from either server and goes to the right one.
        c = HandleClient("127.0.0.1", ports[0][0])
        ans = c.tcp(c.message(Op.GET_SITE_INFO, GenericRequest()))
        site_info = Site.from_wire(ans.body.site)
        assert [srv.interfaces[0].port for srv in site_info.servers] == [ports[0][0], ports[1][0]]
        for h in handles:
            server = site_info.server_for(h)
            got = HandleClient(server.address_text, server.interfaces[0].port).resolve(h)
            assert got.rc == RC.SUCCESS, h
            # The other server answers with a referral carrying the site.
            other = ports[1 - server_number(h, HASH_BY_ALL, 2)][0]
            ref = HandleClient("127.0.0.1", other).resolve(h)
            assert ref.rc == RC.SERVICE_REFERRAL
            referred = Site.from_wire(ref.body.values[0].data)  # each server knows only its own key
            assert [(x.server_id, x.address, x.interfaces) for x in referred.servers] == [
                (x.server_id, x.address, x.interfaces) for x in site_info.servers]
    finally:
        for s in servers:
            s.stop()
