"""Plain anonymous resolutions answered from answers kept encoded, in front of the dispatcher.

A plain resolution request (protocol/fastpath.py: a handle, no filter, no credential, no session)
is answered without building a message: its header fields are read at fixed offsets, and the body
of the answer comes from a table kept per handle spelling and request shape (public values only or
not), framed around the request's ids. Every use still reads the record's stored bytes from LMDB
and compares them with those the answer was made from, as the record cache does: a write that
changes the record, by any process, changes those bytes (values carry their write's timestamp), so
the kept answer is dropped the first time it is asked for after that write. What the service does
for each resolution stays: the prefix's daily quota, the counts for the reports, the per-address
limit and the metrics (in the listeners).

An unknown handle is answered from its syntax (checked on its bytes) and whether its prefix is
served here, kept per prefix for one LMDB snapshot: the answer an attacker's random handles get costs
what a known one does. Everything else (filters, a credential, CT or RD, a recursive request when
the node asks others, non-ASCII spellings, takeover and site shares, a record with values the caller
may not read) takes the dispatcher's full path, which makes the answers kept here.
"""

from __future__ import annotations

import lmdb

from protocol import fastpath as fp
from protocol.codes import RC, HandleError
from protocol.envelope import CT, ENC, KA, PO, RD, REC
from protocol.message import ANSWER_FLAGS

from ..service import Service
from .sessions import SessionTable

MAX_PREFIXES = 4096
_SLOW_FLAGS = CT | RD | ENC  # a signature, a digest of the request, a cipher: the full path
_KEPT_RCS = frozenset({RC.SUCCESS, RC.VALUES_NOT_FOUND})
_new_answer = tuple.__new__  # fp.Answer without the Python-level constructor's frame
# An entry, a plain tuple (CPython stops tracking it in its garbage collector, as the record cache's):
# (storage key, stored bytes the answer was made from, folded prefix, response code, answer tail). The
# key and the stored bytes are the record cache's own objects when it holds the record, the prefix one
# object per prefix: an entry adds its answer tail and little else.


class FastResolver:
    def __init__(self, service: Service, site_serial: int, lifetime: int, sessions: SessionTable):
        self.svc = service
        self.store = service.store
        self.sessions = sessions  # a request under a live session's id goes to the session front
        self.serial = site_serial
        self.lifetime = lifetime
        self.plain: dict[bytes, tuple] = {}  # handle as asked -> entry, for requests without PO
        self.public_only: dict[bytes, tuple] = {}  # the same for requests with PO
        self.served: dict[bytes, tuple[int, bool]] = {}  # folded prefix -> (snapshot id, served here?)
        # Answers kept in both tables together: the record cache's bound (``cache_entries``), so that
        # memory at full caches follows one setting.
        self.max_answers = service.cache.max_entries
        self._prefixes: dict[bytes, bytes] = {}  # one bytes object per folded prefix
        self.fast = 0  # answered here
        self.learned = 0  # answers made by the full path and kept
        # Set by ``answer`` when it returns None for a request whose answer, made by the full path, may be
        # kept (``learn``): the request, its handle, the stored bytes read.
        self.missed: tuple[fp.Request, bytes, bytes] | None = None

    def answer(self, data: bytes, peer: str | None, t0: float, now: float) -> fp.Answer | None:
        """The answer to ``data`` when it is a plain anonymous resolution answered before, else None
        (then, when ``missed`` is set, pass the full path's answer to ``learn``)."""
        self.missed = None
        req = fp.plain_resolution(data)
        if req is None:
            return None
        flags = req[4]
        if flags & _SLOW_FLAGS or (req[2] and self.sessions.has(req[2])):
            return None
        h = req[5]
        e = (self.public_only if flags & PO else self.plain).get(h)
        store = self.store
        try:
            txn = store.env.begin(buffers=False)
        except lmdb.MapResizedError:
            return None
        try:
            if e is not None:
                raw = txn.get(e[0], db=store.dbs["handles"])
            else:
                if not fp.plain_handle(h) or h[:5].lower() == b"0.na/":
                    return None
                k = h.lower()
                raw = txn.get(k, db=store.dbs["handles"])
                if raw is None:
                    return self._unknown(req, k, peer, t0, now, txn)
        finally:
            txn.abort()
        if e is None or raw != e[1]:
            if raw is not None:
                self.missed = (req, h, raw)
            return None
        svc, p = self.svc, e[2]
        try:
            svc.quotas.admit(p)
        except HandleError:
            return None  # the full path refuses it (RC 603) in words
        counters = svc.counters
        if counters is not None:
            counters.resolved(p, True, peer, t0, e[0])
        else:
            svc.resolutions[p] = svc.resolutions.get(p, 0) + 1
        self.fast += 1
        rc = e[3]
        return _new_answer(fp.Answer, (1, rc, fp.frame(req, rc, ANSWER_FLAGS | (flags & (PO | KA)), self.serial,
                                                       int(now) + self.lifetime, e[4])))

    def learn(self, out):
        """``out``, the full path's answer to the request ``answer`` missed; kept when it depends on
        nothing but the record."""
        if self.missed is None:
            return out
        req, h, raw = self.missed
        self.missed = None
        table = self.public_only if req.opflags & PO else self.plain
        if not isinstance(out, fp.Answer) or out.rc not in _KEPT_RCS or not fp.plain_handle(h):
            table.pop(h, None)
            return out
        k = h.lower()
        if self.store.get_raw(k) != raw:  # changed while the full path answered: keep nothing
            table.pop(h, None)
            return out
        if h not in table and len(self.plain) + len(self.public_only) >= self.max_answers:
            self._evict()
        cache = self.svc.cache
        shared = cache.stored(k, raw)
        if shared is not None:
            raw = shared
            cache.drop_hdl(k, raw)  # the answer kept here holds that body: not twice
        if h == k:
            k = h
        p = k[:k.index(b"/")]
        p = self._prefixes.setdefault(p, p) if len(self._prefixes) < MAX_PREFIXES else p
        table[h] = (k, raw, p, out.rc, fp.answer_tail(out.data))
        self.learned += 1
        return out

    def _evict(self) -> None:
        """Drop the oldest eighth of the kept answers (insertion order: the oldest first), from the larger table."""
        table = self.plain if len(self.plain) >= len(self.public_only) else self.public_only
        for old in list(table)[: max(1, self.max_answers // 8)]:
            del table[old]

    def _unknown(self, req: fp.Request, k: bytes, peer: str | None, t0: float, now: float,
                 txn: lmdb.Transaction) -> fp.Answer | None:
        """RC 100 (or 301 for a prefix not served here) for a handle with no record, as the service
        answers it; None when the service may have more to say (takeover, shares, federation)."""
        svc = self.svc
        if svc.deposits is not None or svc.share is not None or svc.role == "top" or \
                (svc.remote is not None and (req.opflags & REC or svc.remote.cached(k) is not None)):
            return None
        cut = k.index(b"/")
        p = k[:cut]
        snapshot = txn.id()
        verdict = self.served.get(p)
        if verdict is None or verdict[0] != snapshot:
            served = self._serves(req.handle[:cut].decode(), req.handle[cut + 1:].decode())
            if len(self.served) >= MAX_PREFIXES:
                self.served.clear()
            self.served[p] = verdict = (snapshot, served)
        counters = svc.counters
        if counters is not None:
            counters.resolved(p, False, peer, t0)
        if verdict[1]:
            rc, msg = RC.HANDLE_NOT_FOUND, b"handle " + req.handle + b" not found"
        else:
            rc, msg = RC.SERVER_NOT_RESPONSIBLE, b"prefix " + req.handle[:cut] + b" is not served by this node"
        self.fast += 1
        return _new_answer(fp.Answer, (1, rc, fp.frame(req, rc, ANSWER_FLAGS | (req.opflags & (PO | KA)),
                                                       self.serial, int(now) + self.lifetime, fp.error_tail(msg))))

    def _serves(self, prefix: str, suffix: str) -> bool:
        with self.store.read() as tx:
            return self.svc.serves(tx, prefix, suffix)
