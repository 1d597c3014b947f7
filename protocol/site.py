"""HS_SITE data (RFC 3651 §3.2.2): a site's version, its servers, their addresses, keys and ports.

    data format version u16 | protocol major u8 | minor u8 | serial number u16 |
    primary mask u8 (0x80 primary, 0x40 multi-primary) | hash option u8 | hash filter (len+bytes) |
    attribute count u32, then name (len+bytes) and value (len+bytes) each |
    server count u32, then per server:
        server id u32 | address 16 bytes | public key (len+bytes, HS_PUBKEY layout) |
        interface count u32, then per interface: type u8 (1 admin, 2 query, 3 both) |
        protocol u8 (0 UDP, 1 TCP, 2 HTTP, 4 HTTPS) | port u32

CNRI's errata to RFC 3651 (https://www.handle.net/rfc/handle-rfc-partial-errata.txt) and the 9.3.1
vector agree on what the RFC gets wrong: the data format version is 1; the primary mask's first
bit is primary, the second multi-primary; an IPv4 address is written as twelve zero bytes and the
four address bytes (``::a.b.c.d``, not ``::ffff:a.b.c.d``; both read back as IPv4 here).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
from dataclasses import dataclass

from .codes import RC, HandleError
from .wire import Reader, Writer

ADMIN = 1
QUERY = 2
PROTOCOLS = {0: "UDP", 1: "TCP", 2: "HTTP", 4: "HTTPS"}
_PROTOCOL_CODES = {v: k for k, v in PROTOCOLS.items()}
PRIMARY = 0x80
MULTI_PRIMARY = 0x40
HASH_BY_PREFIX, HASH_BY_SUFFIX, HASH_BY_ALL = 0, 1, 2
_MAPPED = b"\0" * 10 + b"\xff\xff"


def _bad(message: str, field: str) -> HandleError:
    return HandleError(RC.INVALID_VALUE, message, field=field)


def _dec(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def _enc(s: str, where: str = "site") -> bytes:
    try:
        return s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise _bad(f"HS_SITE {where} is not valid Unicode text", where) from None


def address_to_text(raw: bytes) -> str:
    if raw[:12] == b"\0" * 12 or raw[:12] == _MAPPED:
        return str(ipaddress.IPv4Address(raw[12:]))
    return str(ipaddress.IPv6Address(raw))


def address_from_text(text: str) -> bytes:
    addr = ipaddress.ip_address(text)
    if isinstance(addr, ipaddress.IPv4Address):
        return b"\0" * 12 + addr.packed
    return addr.packed


# -- JSON field helpers -----------------------------------------------------------------------

def _get(obj: dict, key: str, kind: type | tuple[type, ...], where: str, default: object = None) -> object:
    v = obj.get(key, default)
    if v is None or isinstance(v, bool) and kind is int or not isinstance(v, kind):
        raise _bad(f"HS_SITE {where}.{key} is missing or of the wrong type", f"{where}.{key}")
    return v


def _uint(obj: dict, key: str, bits: int, where: str, default: int | None = None) -> int:
    v = _get(obj, key, int, where, default)
    if not 0 <= v < (1 << bits):  # type: ignore[operator]
        raise _bad(f"HS_SITE {where}.{key} = {v} is out of range", f"{where}.{key}")
    return v  # type: ignore[return-value]


def _list(obj: dict, key: str, where: str) -> list:
    v = obj.get(key, [])
    if not isinstance(v, list):
        raise _bad(f"HS_SITE {where}.{key} must be a list", f"{where}.{key}")
    return v


def _object(v: object, where: str) -> dict:
    if not isinstance(v, dict):
        raise _bad(f"HS_SITE {where} must be an object", where)
    return v


@dataclass(frozen=True, slots=True)
class Interface:
    type: int = ADMIN | QUERY
    protocol: int = 1
    port: int = 2641

    @property
    def admin(self) -> bool:
        return bool(self.type & ADMIN)

    @property
    def query(self) -> bool:
        return bool(self.type & QUERY)

    def write(self, w: Writer) -> None:
        w.u8(self.type).u8(self.protocol).u32(self.port)

    @classmethod
    def read(cls, r: Reader) -> Interface:
        return cls(r.u8("interface type"), r.u8("interface protocol"), r.u32("interface port"))

    def to_json(self) -> dict:
        return {"query": self.query, "admin": self.admin,
                "protocol": PROTOCOLS.get(self.protocol, self.protocol), "port": self.port}

    @classmethod
    def from_json(cls, obj: object, where: str = "interface") -> Interface:
        o = _object(obj, where)
        admin, query = o.get("admin", False), o.get("query", False)
        if not isinstance(admin, bool) or not isinstance(query, bool):
            raise _bad(f"HS_SITE {where}.admin and .query must be booleans", where)
        proto = o.get("protocol")
        if isinstance(proto, str) and proto.upper() in _PROTOCOL_CODES:
            code = _PROTOCOL_CODES[proto.upper()]
        elif isinstance(proto, int) and not isinstance(proto, bool) and 0 <= proto < 256:
            code = proto
        else:
            raise _bad(f"HS_SITE {where}.protocol must be one of UDP, TCP, HTTP, HTTPS", f"{where}.protocol")
        return cls((ADMIN if admin else 0) | (QUERY if query else 0), code, _uint(o, "port", 32, where))


@dataclass(frozen=True, slots=True)
class Server:
    server_id: int
    address: bytes  # 16 bytes
    public_key: bytes = b""  # HS_PUBKEY layout (protocol.pubkey)
    interfaces: tuple[Interface, ...] = ()

    @property
    def address_text(self) -> str:
        return address_to_text(self.address)

    def write(self, w: Writer) -> None:
        if len(self.address) != 16:
            raise HandleError(RC.INVALID_VALUE, "a server address is 16 bytes", field="address")
        w.u32(self.server_id).raw(self.address).blob(self.public_key).u32(len(self.interfaces))
        for i in self.interfaces:
            i.write(w)

    @classmethod
    def read(cls, r: Reader) -> Server:
        sid = r.u32("server id")
        addr = r.raw(16, "server address")
        key = r.blob("server public key", 1 << 16)
        n = r.count("interfaces", 6)
        return cls(sid, addr, key, tuple(Interface.read(r) for _ in range(n)))

    def to_json(self) -> dict:
        return {"serverId": self.server_id, "address": self.address_text,
                "publicKey": {"format": "base64", "value": base64.b64encode(self.public_key).decode()},
                "interfaces": [i.to_json() for i in self.interfaces]}

    @classmethod
    def from_json(cls, obj: object, where: str = "server") -> Server:
        o = _object(obj, where)
        sid = _uint(o, "serverId", 32, where)
        addr = _get(o, "address", str, where)
        try:
            raw = address_from_text(addr)  # type: ignore[arg-type]
        except ValueError:
            raise _bad(f"HS_SITE {where}.address {addr!r} is not an IP address", f"{where}.address") from None
        return cls(sid, raw, _key_from_json(o.get("publicKey"), f"{where}.publicKey"),
                   tuple(Interface.from_json(i, f"{where}.interfaces[{n}]")
                         for n, i in enumerate(_list(o, "interfaces", where))))


def _key_from_json(obj: object, where: str) -> bytes:
    if obj is None:
        return b""
    o = _object(obj, where)
    fmt, value = o.get("format", "base64"), o.get("value", "")
    if not isinstance(value, str):
        raise _bad(f"HS_SITE {where}.value must be a string", where)
    try:
        if fmt == "base64":
            return base64.b64decode(value, validate=True)
        if fmt == "hex":
            return bytes.fromhex(value)
    except (binascii.Error, ValueError):
        raise _bad(f"HS_SITE {where}.value is not valid {fmt}", where) from None
    raise _bad(f"HS_SITE {where}.format must be base64 or hex", where)


@dataclass(frozen=True, slots=True)
class Site:
    servers: tuple[Server, ...] = ()
    serial: int = 1
    primary: bool = False
    multi_primary: bool = False
    attributes: tuple[tuple[str, str], ...] = ()
    major: int = 2
    minor: int = 10
    version: int = 1
    hash_option: int = HASH_BY_ALL
    hash_filter: bytes = b""

    def to_wire(self) -> bytes:
        w = Writer().u16(self.version).u8(self.major).u8(self.minor).u16(self.serial)
        w.u8((PRIMARY if self.primary else 0) | (MULTI_PRIMARY if self.multi_primary else 0))
        w.u8(self.hash_option).blob(self.hash_filter).u32(len(self.attributes))
        for name, value in self.attributes:
            w.blob(_enc(name, "attributes")).blob(_enc(value, "attributes"))
        w.u32(len(self.servers))
        for s in self.servers:
            s.write(w)
        return w.getvalue()

    @classmethod
    def from_wire(cls, data: bytes) -> Site:
        r = Reader(data)
        version = r.u16("site data version")
        major, minor = r.u8("site protocol major"), r.u8("site protocol minor")
        serial = r.u16("site serial")
        mask = r.u8("site primary mask")
        hash_option = r.u8("site hash option")
        hash_filter = r.blob("site hash filter", 1 << 16)
        n = r.count("site attributes", 8)
        attrs = tuple((_dec(r.blob("attribute name", 1 << 16)), _dec(r.blob("attribute value", 1 << 16)))
                      for _ in range(n))
        n = r.count("site servers", 28)
        servers = tuple(Server.read(r) for _ in range(n))
        r.done("HS_SITE")
        return cls(servers, serial, bool(mask & PRIMARY), bool(mask & MULTI_PRIMARY), attrs, major, minor,
                   version, hash_option, hash_filter)

    def server_for(self, handle: str) -> Server:
        """The server of this site that holds ``handle`` (RFC 3652 §3.3, the site's hash option)."""
        if not self.servers:
            raise HandleError(RC.INVALID_VALUE, "HS_SITE lists no server", field="site")
        return self.servers[server_number(handle, self.hash_option, len(self.servers))]

    def to_json(self) -> dict:
        out: dict = {"version": self.version, "protocolVersion": f"{self.major}.{self.minor}",
                     "serialNumber": self.serial, "primarySite": self.primary, "multiPrimary": self.multi_primary,
                     "hashOption": self.hash_option}
        if self.hash_filter:
            out["hashFilter"] = _dec(self.hash_filter)
        out["attributes"] = [{"name": n, "value": v} for n, v in self.attributes]
        out["servers"] = [s.to_json() for s in self.servers]
        return out

    @classmethod
    def from_json(cls, obj: object) -> Site:
        o = _object(obj, "site")
        pv = o.get("protocolVersion", "2.10")
        try:
            major_s, minor_s = pv.split(".")  # type: ignore[union-attr]
            major, minor = int(major_s), int(minor_s)
            if not (0 <= major < 32 and 0 <= minor < 256):
                raise ValueError
        except (AttributeError, ValueError):
            raise _bad(f"HS_SITE protocolVersion {pv!r} must look like \"2.10\"", "site.protocolVersion") from None
        primary, multi = o.get("primarySite", False), o.get("multiPrimary", False)
        if not isinstance(primary, bool) or not isinstance(multi, bool):
            raise _bad("HS_SITE primarySite and multiPrimary must be booleans", "site.primarySite")
        hash_filter = o.get("hashFilter", "")
        if not isinstance(hash_filter, str):
            raise _bad("HS_SITE hashFilter must be a string", "site.hashFilter")
        attrs = []
        for n, a in enumerate(_list(o, "attributes", "site")):
            a = _object(a, f"site.attributes[{n}]")
            attrs.append((str(_get(a, "name", str, f"site.attributes[{n}]")),
                          str(_get(a, "value", str, f"site.attributes[{n}]", ""))))
        servers = tuple(Server.from_json(s, f"site.servers[{n}]") for n, s in enumerate(_list(o, "servers", "site")))
        return cls(servers, _uint(o, "serialNumber", 16, "site", 1), primary, multi, tuple(attrs), major, minor,
                   _uint(o, "version", 16, "site", 1), _uint(o, "hashOption", 8, "site", HASH_BY_ALL),
                   _enc(hash_filter, "site.hashFilter"))


def server_number(handle: str, hash_option: int, n_servers: int) -> int:
    """Which of ``n_servers`` holds ``handle``: the part the hash option names (prefix, suffix or all),
    upper-cased in ASCII, through MD5; the digest's last four bytes as a signed big-endian number,
    its absolute value modulo the number of servers."""
    if n_servers <= 1:
        return 0
    prefix, _, suffix = handle.partition("/")
    part = prefix if hash_option == HASH_BY_PREFIX else suffix if hash_option == HASH_BY_SUFFIX else handle
    digest = hashlib.md5(_ascii_upper(part).encode("utf-8"), usedforsecurity=False).digest()
    return abs(int.from_bytes(digest[-4:], "big", signed=True)) % n_servers


def _ascii_upper(text: str) -> str:
    # Only ASCII letters change case in the Handle System; str.upper() would also fold "ß" and others.
    return text.translate(_UPPER)


_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}


def query_interface(server: Server, *, prefer_udp: bool = True) -> Interface | None:
    """The interface to send a resolution to: UDP when offered (and wanted), else TCP, else none."""
    order = (0, 1) if prefer_udp else (1, 0)
    for proto in order:
        for i in server.interfaces:
            if i.query and i.protocol == proto:
                return i
    return None


def http_interface(server: Server) -> Interface | None:
    """The interface that answers queries over HTTPS or HTTP (where a node's other APIs, such as the
    trace, are served too); HTTPS when both are offered."""
    for proto in (4, 2):
        for i in server.interfaces:
            if i.query and i.protocol == proto:
                return i
    return None


def http_base(server: Server, iface: Interface) -> str:
    """``http://address:port`` of a server's HTTP(S) interface, an IPv6 address in brackets."""
    host = server.address_text
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if iface.protocol == 4 else 'http'}://{host}:{iface.port}"


def from_json(obj: object) -> bytes:
    """The JSON "site" format → HS_SITE bytes."""
    return Site.from_json(obj).to_wire()


def to_json(data: bytes) -> dict:
    """HS_SITE bytes → the JSON "site" format."""
    return Site.from_wire(data).to_json()
