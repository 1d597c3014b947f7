"""This node's HS_SITE (RFC 3651 §3.2.2): what a get-site-info request is answered with."""

from __future__ import annotations

import ipaddress

from protocol.site import ADMIN, QUERY, Interface, Server, Site

UDP, TCP, HTTP = 0, 1, 2
SITE_VERSION = (2, 10)  # the protocol version this node speaks


def advertised_address(host: str) -> str:
    """The address to publish: a wildcard bind says nothing to a client, so loopback stands in
    (a node listening on every address should be given its public one with --advertise)."""
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return "127.0.0.1"
    if addr.is_unspecified:
        return "127.0.0.1" if addr.version == 4 else "::1"
    return host


def node_site(host: str, handle_port: int | None, http_port: int | None, public_key: bytes, *,
              serial: int = 1, description: str = "idnode") -> Site:
    """One primary server answering queries and administration over TCP, queries over UDP, and
    both over HTTP when the node has an HTTP port (the interfaces Handle.Net lists, in its order)."""
    interfaces = []
    if handle_port is not None:
        interfaces += [Interface(ADMIN | QUERY, TCP, handle_port), Interface(QUERY, UDP, handle_port)]
    if http_port is not None:
        interfaces.append(Interface(ADMIN | QUERY, HTTP, http_port))
    server = Server(1, ipaddress.ip_address(advertised_address(host)).packed.rjust(16, b"\0"), public_key,
                    tuple(interfaces))
    return Site((server,), serial=serial, primary=True, attributes=(("desc", description),),
                major=SITE_VERSION[0], minor=SITE_VERSION[1])
