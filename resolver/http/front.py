"""The HTTP front: an asyncio protocol before aiohttp's that answers a plain keep-alive
``GET /api/handles/{h}`` or scanner ``GET /{h}`` from answers kept encoded, and hands everything else
to aiohttp unchanged (issue 22).

Profiles of the node under wrk showed aiohttp's own per-request work (its request and response
objects, the header writer, the handler task) costing as much as the node's whole resolution; the
issue's reference, a bare aiohttp handler doing one LMDB read, pays it too. Below aiohttp, a request
the front can answer costs a ``find``, a header check, the LMDB read that proves the kept answer is the
stored record's, and the same admission, quota, counting and metrics as the regular route.

What the front takes: ``GET``, ``HTTP/1.1``, a path ``fastget.plain_path`` accepts with no query, and
only the headers in ``_HARMLESS`` (none of which changes these answers; ``Connection`` only as
``keep-alive``; a scanner's ``Accept`` only when it does not ask for JSON), each at most once. It answers:

- a found record whose answer is kept (``Answers`` on the record cache's entry for exactly these stored
  bytes: a write makes new bytes, a new entry, and the answer is built again on its next read);
- for ``/api/handles/``: a record whose answer is not kept yet (through ``FastGet.api``, which keeps
  it), an unknown handle (its 404 kept in ``Missing``, bounded), and the 429 of the rate limit.

On the first request it does not take, the connection is aiohttp's for good: that request and every
byte after it go to aiohttp's handler as they came, after the answers already written. Nothing with
a side effect (admission, counting) happens before that decision, so nothing is done twice.
Each answer equals, byte for byte but the ``Date``, what aiohttp writes for the regular route's
response (tests/test_front.py); the ``Date`` and ``Server`` lines are aiohttp's own.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import orjson
from aiohttp import web
from aiohttp.helpers import rfc822_formatted_time
from aiohttp.http import SERVER_SOFTWARE

from protocol.codes import HandleError
from protocol.handles import MAX_HANDLE_BYTES, fold, is_within, key, split, strip_scheme

from .. import metrics
from ..metrics import PROTOCOL_HTTP
from ..service.cache import HTTP, RAW
from .common import error_response

if TYPE_CHECKING:
    from .fastget import FastGet

# Headers whose presence changes none of the answers the front gives (names as lower-case bytes).
_HARMLESS = frozenset((b"host", b"user-agent", b"accept", b"accept-encoding", b"accept-language",
                       b"connection", b"cache-control", b"pragma", b"referer", b"dnt"))
MAX_HEAD = 8000  # a request head longer than this is aiohttp's to judge (its line limit is 8190)
MAX_MISSING = 4096  # unknown handles whose 404 is kept; past it the table starts again empty
_API = b"/api/handles/"
_SUFFIX = b" HTTP/1.1"
_perf = time.perf_counter
_record = metrics.record
_SERVER = f"\r\nServer: {SERVER_SOFTWARE}\r\n\r\n".encode()
_RESOLVED = (PROTOCOL_HTTP, "resolve", 200)
_MISSING = (PROTOCOL_HTTP, "resolve", 404)
_REDIRECTED = (PROTOCOL_HTTP, "resolve_page", 302)
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: "
_date: list = ["", b""]  # aiohttp's Date string of this second, and the line's tail made of it


def _tail() -> bytes:
    """``Date: …\\r\\nServer: …\\r\\n\\r\\n``: the last lines aiohttp writes, with its own Date of this second."""
    now = rfc822_formatted_time()
    if now is not _date[0]:
        _date[0], _date[1] = now, b"Date: " + now.encode() + _SERVER
    return _date[1]


def encode(resp: web.Response) -> tuple[bytes, bytes]:
    """A response made for the regular route as aiohttp writes it, without its Date and Server lines:
    (status line and headers, body). Only for a ``web.Response`` with a body of bytes (no compression,
    no chunking), which is what the resolution routes make."""
    body = resp.body
    assert isinstance(body, bytes)
    head = [f"HTTP/1.1 {resp.status} {resp.reason}\r\n"]
    head += [f"{k}: {v}\r\n" for k, v in resp.headers.items()]
    head.append(f"Content-Length: {len(body)}\r\n")
    return "".join(head).encode("utf-8"), body


PER_TURN_PIECES = 3 * 8  # pieces of answers (3 each) written per turn of the loop for one connection
MAX_REFUSALS = 4096  # encoded 429 answers kept (address, handle, wait): a bound, cleared when reached


class _Target:
    """What ``common.error_response`` reads of a request: the path an answer pointing elsewhere repeats."""

    __slots__ = ("path_qs",)

    def __init__(self, path: str):
        self.path_qs = path


class Missing:
    """The kept 404 answers of unknown handles asked for over ``/api/handles/``: handle as asked →
    (folded prefix, prefix, suffix, head, body, the node prefix it lies under or None). Kept only where the 404 is decided by the record's
    absence and the prefix being served (no federation, no deposits, not a top-level node); both are
    checked again on every use. Bounded: a flood of distinct unknown handles empties it, no more."""

    def __init__(self, bound: int = MAX_MISSING):
        self.bound = bound
        self.d: dict[str, tuple[bytes, str, str, bytes, bytes, str | None]] = {}

    def make(self, handle: str, k: bytes, node: str | None) -> tuple | None:
        """The 404 ``resolve`` and ``common.error_response`` would make for ``handle`` (stored as ``k``)
        when it is valid and absent, written directly; None when the handle is not valid (its 400 is the
        regular route's). The caller checks that the prefix is served before answering with it."""
        bare = strip_scheme(handle)
        try:
            split(bare)
        except HandleError:
            return None
        body = (b'{"responseCode":100,"handle":' + orjson.dumps(handle) + b',"message":'
                + orjson.dumps(f"handle {bare} not found") + b',"field":"handle"}')
        head = _NOT_FOUND + str(len(body)).encode() + b"\r\n"
        prefix, _, suffix = bare.partition("/")
        # Under the node's own prefix (``node``), a prefix is served whatever the store holds
        # (``Core.serves``): then no read transaction is needed to check it again.
        under = node if node is not None and fold(prefix) != "0.na" and is_within(prefix, node) else None
        gone = (k[:k.index(b"/")], prefix, suffix, head, body, under)
        d = self.d
        if len(d) >= self.bound:
            d.clear()
        d[handle] = gone
        return gone

    def __len__(self) -> int:
        return len(self.d)


class Front(asyncio.Protocol):
    """One connection: answers what it can (``FrontAnswers``), then forwards to aiohttp's handler."""

    __slots__ = ("inner", "answers", "transport", "remote", "ours", "buf", "paused", "later")

    def __init__(self, inner: asyncio.Protocol, answers: FrontAnswers):
        self.inner = inner  # aiohttp's RequestHandler: told of the connection from the start
        self.answers = answers
        self.transport: asyncio.Transport | None = None
        self.remote: str | None = None
        self.ours = True  # False once a request went to aiohttp: every later byte is its
        self.buf = b""  # the start of a request not yet complete
        self.paused = False
        self.later = False  # the rest of a long pipeline waits for the next turn of the loop

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.remote = str(peer[0]) if isinstance(peer, (list, tuple)) else None  # as aiohttp's request.remote
        self.inner.connection_made(transport)  # counts it (resolver/http/connections.py); may close it

    def data_received(self, data: bytes) -> None:
        if not self.ours:
            self.inner.data_received(data)
            return
        if self.buf:
            data, self.buf = self.buf + data, b""
        if self.transport.is_closing():  # type: ignore[union-attr]
            return
        answer = self.answers.answer
        out = []
        pos, n = 0, len(data)
        while pos < n:
            if not data.startswith(b"GET /", pos):
                if n - pos < 5 and b"GET /".startswith(data[pos:]):
                    self.buf = data[pos:]  # the first bytes of what may be a GET
                    pos = n
                break
            end = data.find(b"\r\n\r\n", pos, pos + MAX_HEAD)
            if end < 0:
                if n - pos < MAX_HEAD and data.find(b"\n\n", pos) < 0 and data.find(b"\n\r\n", pos) < 0:
                    # (a head ended by bare line feeds is aiohttp's to judge: never wait for it here)
                    self.buf = data[pos:]
                    pos = n
                break
            if len(out) >= PER_TURN_PIECES:
                # A long pipeline (a flood) is answered a slice per turn of the event loop, as aiohttp
                # takes one request of a connection at a time: other connections and /healthz go between.
                self.buf = data[pos:]
                pos = n
                self._later()
                break
            a = answer(data, pos, end, self.remote)
            if a is None:
                break
            out += a
            pos = end + 4
        if out:
            self.transport.write(b"".join(out))  # type: ignore[union-attr]
            self.answers.kept_alive(self.inner)
        if pos < n:
            self.ours = False
            self.inner.data_received(data[pos:] if pos else data)

    def _later(self) -> None:
        if not self.later:
            self.later = True
            self.transport.pause_reading()  # type: ignore[union-attr]
            self.answers.loop.call_soon(self._go_on)

    def _go_on(self) -> None:
        self.later = False
        if self.transport.is_closing():  # type: ignore[union-attr]
            return
        if not self.paused:
            self.transport.resume_reading()  # type: ignore[union-attr]
            self.data_received(b"")

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()  # type: ignore[func-returns-value]

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)

    # A client that sends but does not read: stop reading while its answers wait in the send buffer.
    def pause_writing(self) -> None:
        if self.ours and not self.paused:
            self.paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.paused:
            self.paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]
            if self.buf and self.ours and not self.later:
                self.later = True
                self.answers.loop.call_soon(self._go_on)
        self.inner.resume_writing()


class FrontAnswers:
    """What the front answers, for one application (its ``FastGet``)."""

    def __init__(self, fast: FastGet):
        self.fast = fast
        self.svc = fast.svc
        self.missing = Missing()
        self.refusals: dict[tuple, tuple[int, bytes, bytes]] = {}  # encoded 429s (_refused)
        self.loop = asyncio.get_event_loop()

    def kept_alive(self, inner: object) -> None:
        """An answer was written: aiohttp's idle timer counts from now, as after its own answers."""
        timeout = inner._keepalive_timeout  # type: ignore[attr-defined]
        if timeout > 0:
            inner._next_keepalive_close_time = self.loop.time() + timeout  # type: ignore[attr-defined]

    def answer(self, data: bytes, pos: int, end: int, remote: str | None) -> tuple[bytes, ...] | None:
        """The answer to the request head ``data[pos:end]`` (a GET) in pieces to be joined, None when it
        is not the front's."""
        line = data.find(b"\r\n", pos, end + 2)
        if not data.startswith(_SUFFIX, line - len(_SUFFIX)):
            return None
        raw_path = data[pos + 4:line - len(_SUFFIX)]
        if not raw_path.isascii() or b"?" in raw_path or b"#" in raw_path or b" " in raw_path:
            return None
        accept = None
        seen: set[bytes] = set()
        if line < end:
            for h in data[line + 2:end].split(b"\r\n"):
                name, colon, value = h.partition(b":")
                name = name.lower()
                if (not colon or name not in _HARMLESS or name in seen or b"\r" in value or b"\n" in value
                        or b"\0" in value):
                    return None
                seen.add(name)
                if name == b"connection" and value.strip().lower() != b"keep-alive":
                    return None
                if name == b"accept":
                    accept = value
        if b"host" not in seen:
            return None  # aiohttp refuses an HTTP/1.1 request without Host: its 400, not an answer
        path = raw_path.decode("ascii")
        fast = self.fast
        if not fast.plain(path):
            return None
        if raw_path.startswith(_API):
            if len(raw_path) == len(_API):
                return None
            return self.api(path[len(_API):], remote)
        if fast.scanner is None or not fast._scanner_route(path):
            return None
        if accept is not None and b"application/json" in accept and b"text/html" not in accept:
            return None  # a scanner asking for JSON: the regular route answers it
        return self.scan(path[1:], remote)

    def _entry(self, handle: str) -> tuple[bytes, tuple | None, bytes | None]:
        """(storage key, the answers kept for the stored bytes, made now if need be, or None when
        there is no record, the stored bytes or None)."""
        handle = strip_scheme(handle)  # as ``resolve`` spells it in its answer
        try:
            k = key(handle)
        except UnicodeEncodeError:
            return b"", None, None
        svc = self.svc
        raw = svc.store.get_raw(k) if 0 < len(k) <= MAX_HANDLE_BYTES else None
        if raw is None:
            return k, None, None
        e = svc.cache.peek(k)
        if e is not None and e[HTTP] is not None and (e[RAW] is raw or e[RAW] == raw):
            return k, e[HTTP], raw
        return k, self.fast.prepare(handle, k, raw), raw

    def api(self, handle: str, remote: str | None) -> tuple[bytes, ...] | None:
        svc = self.svc
        k, kept, raw = self._entry(handle)
        if kept is not None and kept[0] == strip_scheme(handle):
            t0 = _perf()
            if not svc.limits.per_address.admit(remote, t0):
                return self._refused(remote, t0, "resolve", handle)
            try:
                svc.handles.count_found(kept[1], remote, t0, k)
            except HandleError as e:  # the prefix's daily quota
                resp = error_response(e, handle)
                _record((PROTOCOL_HTTP, "resolve", resp.status), _perf() - t0)
                head, body = encode(resp)
                return head, _tail(), body
            _record(_RESOLVED, _perf() - t0)
            return kept[2], _tail(), kept[3], kept[4], b"}"
        if raw is None:
            if svc.remote is not None or svc.deposits is not None:
                return None  # the regular route asks elsewhere
            gone = self.missing.d.get(handle)
            if gone is None and k and svc.share is None and svc.role != "top":
                gone = self.missing.make(handle, k, svc.node_prefix)
            if gone is not None:
                return self._missing(handle, gone, remote)
        return self._regular(handle, remote)

    def _regular(self, handle: str, remote: str | None) -> tuple[bytes, ...]:
        """The regular sequence (fastget's, which keeps a found record's answers), its answer encoded."""
        t0 = _perf()
        resp = self.fast.api_response(handle, remote, t0, _Target(_API.decode() + handle))
        if resp is None:  # cannot happen without federation (refused above): say so rather than hang
            raise RuntimeError("front: a resolution to be asked elsewhere")
        head, body = encode(resp)
        return head, _tail(), body

    def _missing(self, handle: str, gone: tuple, remote: str | None) -> tuple[bytes, ...] | None:
        """A kept 404, after the checks the regular route makes: rate, the prefix still served."""
        svc = self.svc
        p, prefix, suffix, head, body, under = gone
        if under is None or under is not svc.node_prefix:
            with svc.store.read() as tx:
                served = svc.serves(tx, prefix, suffix)
        else:
            served = True
        if not served:
            self.missing.d.pop(handle, None)
            return self._regular(handle, remote)
        t0 = _perf()
        if not svc.limits.per_address.admit(remote, t0):
            return self._refused(remote, t0, "resolve", handle)
        if svc.counters is not None:
            svc.counters.resolved(p, False, remote, t0)
        _record(_MISSING, _perf() - t0)
        return head, _tail(), body

    def scan(self, handle: str, remote: str | None) -> tuple[bytes, ...] | None:
        k, kept, raw = self._entry(handle)
        if kept is None or kept[5] is None:
            return None  # unknown, or no redirect (the record's page): the regular route
        svc = self.svc
        p = kept[1]
        q = svc.quotas
        if q.limits and p in q.limits and q.counts.get(p, 0) >= q.limits[p]:
            return None  # its refusal is a page made for the request: the regular route (nothing done yet)
        t0 = _perf()
        if not svc.limits.per_address.admit(remote, t0):
            return self._refused(remote, t0, "resolve_page", None)
        try:
            svc.handles.count_found(p, remote, t0, k)
        except HandleError as e:  # a quota reloaded just now: its JSON refusal (the page needs the request)
            resp = error_response(e)
            _record((PROTOCOL_HTTP, "resolve_page", resp.status), _perf() - t0)
            head, body = encode(resp)
            return head, _tail(), body
        _record(_REDIRECTED, _perf() - t0)
        return kept[5], _tail(), b"302: Found"

    def _refused(self, remote: str | None, t0: float, route: str, handle: str | None) -> tuple[bytes, ...]:
        # A flood over the rate is mostly refusals: each must cost what a kept answer costs, or the
        # refusals themselves become the overload (tests/test_overload.py). The encoded 429 is kept per
        # what its text names (address, handle, rate, seconds to wait), in a bounded table.
        refusal = self.svc.limits.address_refusal(remote)
        key = (remote, handle, refusal.message)
        hit = self.refusals.get(key)
        if hit is None:
            if len(self.refusals) >= MAX_REFUSALS:
                self.refusals.clear()
            resp = error_response(refusal, handle)
            hit = self.refusals[key] = (resp.status, *encode(resp))
        _record((PROTOCOL_HTTP, route, hit[0]), _perf() - t0)
        return hit[1], _tail(), hit[2]


def fronted(server: web.Server, answers: FrontAnswers) -> None:
    """Put the front before every connection ``server`` (a runner's) makes from now on."""
    make = server.__call__

    class Fronted(type(server)):  # type: ignore[misc]
        # An event loop's server calls its protocol factory: the runner's ``web.Server`` itself.
        # Its class is swapped for this subclass so every site made from the runner is fronted.
        def __call__(self) -> asyncio.Protocol:
            return Front(make(), answers)

    server.__class__ = Fronted
