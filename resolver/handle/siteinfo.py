"""This node's HS_SITE (RFC 3651 §3.2.2): what a get-site-info request is answered with."""

from __future__ import annotations

import ipaddress

from protocol.site import ADMIN, HASH_BY_ALL, QUERY, Interface, Server, Site

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


def parse_site_server(text: str) -> tuple[str, int, int]:
    """``10.0.0.5:2641:8000`` or ``[::1]:2641:8000`` → (address, Handle port, HTTP port)."""
    if text.startswith("["):
        addr, _, rest = text[1:].partition("]")
        ports = rest.lstrip(":").split(":")
    else:
        addr, *ports = text.split(":")
    try:
        ipaddress.ip_address(addr)
        handle_port, http_port = (int(p) for p in ports)
    except ValueError:
        raise SystemExit(f"idnode: --site-server {text!r} must be IP:HANDLE_PORT:HTTP_PORT") from None
    return addr, handle_port, http_port


def multi_site(servers: list[tuple[str, int, int]], number: int, public_key: bytes, *, serial: int = 1,
               description: str = "idnode") -> Site:
    """A site of several servers, handles hashed across them; only this one's key is known here."""
    out = []
    for n, (addr, hport, http) in enumerate(servers, start=1):
        interfaces = (Interface(ADMIN | QUERY, TCP, hport), Interface(QUERY, UDP, hport),
                      Interface(ADMIN | QUERY, HTTP, http))
        out.append(Server(n, ipaddress.ip_address(addr).packed.rjust(16, b"\0"),
                          public_key if n == number else b"", interfaces))
    return Site(tuple(out), serial=serial, primary=True, attributes=(("desc", description),),
                major=SITE_VERSION[0], minor=SITE_VERSION[1], hash_option=HASH_BY_ALL)
