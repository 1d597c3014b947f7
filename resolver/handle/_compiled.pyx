# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled twin of the fast path's hit: a plain anonymous resolution answered from a kept answer.

Built by ``make`` (``pip install -e .``, Cython); resolver/handle/compiled.py loads it and says when it
is not used. It answers only what resolver/handle/fastpath.py would answer from its tables with the
same bytes, and only from an entry whose record still holds the bytes its answer was made from (it reads the record in the batch's read transaction, as the Python path reads it per
request, and compares the bytes): anything else (a miss, a changed record, a refusal, a quota, a
session, an answer longer than one datagram) is handed back untouched to the Python path, which
decides as it always did. The per-address rate is
taken on the Python limiter's own table, and what was answered is counted here and flushed once per
batch into the same counters and metrics the Python path feeds (``Table.flush``).

A record is read and compared once per LMDB snapshot (transaction id), not once per request: in one
snapshot its bytes cannot change, and any write, by any process, makes a new snapshot. An unknown
handle's absence is kept the same way, and its answer is written from the request's bytes. Over TCP the
answers to one read are written into one buffer and leave as one bytes object.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem, PyDict_SetItem, PyDict_Size
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_Check, PyFloat_FromDouble
from cpython.long cimport PyLong_AsLongLong
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.stdint cimport uint8_t, uint32_t
from libc.string cimport memcmp, memcpy, memset

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    struct sockaddr:
        unsigned short sa_family
    struct sockaddr_storage:
        unsigned short ss_family
    struct iovec:
        void *iov_base
        size_t iov_len
    struct msghdr:
        void *msg_name
        socklen_t msg_namelen
        iovec *msg_iov
        size_t msg_iovlen
        void *msg_control
        size_t msg_controllen
        int msg_flags
    struct mmsghdr:
        msghdr msg_hdr
        unsigned int msg_len
    int recvmmsg(int fd, mmsghdr *msgs, unsigned int vlen, int flags, void *timeout)
    int sendmmsg(int fd, mmsghdr *msgs, unsigned int vlen, int flags)
    int MSG_DONTWAIT
    int AF_INET
    int AF_INET6

cdef extern from "<netinet/in.h>" nogil:
    struct in_addr:
        uint32_t s_addr
    struct sockaddr_in:
        unsigned short sin_family
        unsigned short sin_port
        in_addr sin_addr
    struct in6_addr:
        uint8_t s6_addr[16]
    struct sockaddr_in6:
        unsigned short sin6_family
        unsigned short sin6_port
        uint32_t sin6_flowinfo
        in6_addr sin6_addr
        uint32_t sin6_scope_id
    unsigned short ntohs(unsigned short)

cdef extern from "<arpa/inet.h>" nogil:
    const char *inet_ntop(int af, const void *src, char *dst, socklen_t size)

cdef extern from "<time.h>" nogil:
    struct timespec:
        long tv_sec
        long tv_nsec
    int clock_gettime(int clk, timespec *tp)
    int CLOCK_MONOTONIC

cdef extern from "<errno.h>":
    int errno

DEF BATCH = 64
BATCH_SIZE = BATCH
DEF DGRAM = 2048  # a datagram longer than this is not a plain resolution: truncated, and so handed over
DEF OUT = 512
DEF TCP_OUT = 32768  # the answers to one TCP read answered here; past it the Python path answers the rest
DEF AGG = 16  # distinct (prefix, peer, rc) per batch counted here; past that the Python path counts
DEF MIN_REQUEST = 57
DEF HANDLE_AT = 48
DEF ANSWER_HEAD = 44

cdef inline uint32_t rd32(const uint8_t *p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]

cdef inline void wr32(uint8_t *p, uint32_t v) noexcept nogil:
    p[0] = v >> 24
    p[1] = (v >> 16) & 0xFF
    p[2] = (v >> 8) & 0xFF
    p[3] = v & 0xFF

cdef inline double monotonic() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)  # what time.perf_counter reads on Linux
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef struct Count:
    PyObject *prefix
    PyObject *peer
    uint32_t rc
    long n
    bint ok  # found (the counts for the reports say how many were)


cdef class Table:
    """The fast path's tables as the compiled path reads them; one per listener, refreshed per batch."""

    cdef object resolver, limiter, tat, quota_limits, last_peer
    cdef object plain, public_only, get, db, served
    cdef long long snapshot
    # What was read in the current snapshot: in one LMDB snapshot (one transaction id) a record's bytes
    # cannot change, so each is read and compared once per snapshot, not once per request.
    cdef dict verified  # handle as asked -> the entry whose stored bytes were equal in ``verified_at``
    cdef dict absent  # folded handle -> True: no record in ``verified_at``
    cdef long long verified_at
    cdef object verified_db
    cdef Py_ssize_t max_verified
    cdef bint unknown_ok
    cdef Py_ssize_t max_segments
    cdef bint open
    cdef double now_mono, interval, tolerance
    cdef Py_ssize_t max_entries
    cdef long long lifetime
    cdef uint32_t serial, expiration, slow_flags, echo_flags, answer_flags, po_flag, max_handle
    cdef uint8_t suggest_major, suggest_minor
    cdef int packet
    cdef uint32_t unknown_rc
    cdef Py_ssize_t unknown_cut
    cdef uint8_t tcpbuf[TCP_OUT]  # the answers to one TCP read, written one after another
    cdef char last_addr[16]
    cdef int last_family
    cdef Count counts[AGG]
    cdef int ncounts
    cdef public long answered  # answered here since this table was made (tests and the bench read it)
    cdef list pending  # batches of (prefix, peer, rc, n) not yet flushed
    cdef public dict hits  # folded handle key → found answers since the last flush (the top identifiers)
    # UDP batch buffers
    cdef uint8_t inbuf[BATCH][DGRAM]
    cdef uint8_t outbuf[BATCH][OUT]
    cdef sockaddr_storage names[BATCH]
    cdef iovec in_iov[BATCH]
    cdef iovec out_iov[BATCH]
    cdef mmsghdr in_msgs[BATCH]
    cdef mmsghdr out_msgs[BATCH]

    def __init__(self, resolver, *, slow_flags, echo_flags, answer_flags, po_flag, suggest,
                 max_handle, packet, max_segments):
        self.resolver = resolver
        self.limiter = None
        self.plain, self.public_only = resolver.plain, resolver.public_only  # never replaced, changed in place
        self.serial, self.lifetime = resolver.serial, resolver.lifetime
        self.served = resolver.served  # cleared in place when full, never replaced
        self.verified, self.absent = {}, {}
        self.verified_at, self.verified_db = -1, None
        self.max_verified = max(1024, resolver.max_answers)
        self.max_segments = max_segments
        self.unknown_ok = False
        self.slow_flags, self.echo_flags, self.answer_flags = slow_flags, echo_flags, answer_flags
        self.po_flag, self.max_handle, self.packet = po_flag, max_handle, min(packet, OUT)
        self.suggest_major, self.suggest_minor = suggest[0], suggest[1]
        self.last_family = 0
        self.last_peer = None
        self.ncounts = 0
        self.answered = 0
        self.open = False
        self.pending = []
        self.hits = {}

    def begin(self, get, db, double wall, double mono, per_address, quota_limits, long long snapshot=-1,
              bint unknown=False):
        """Before a batch (and after its requests were read): the batch's read transaction's ``get`` and
        the handles database (``get`` None: nothing is answered here), the clocks, the limiter's state as
        it is now."""
        self.get, self.db = get, db
        self.open = get is not None
        self.now_mono = mono
        self.expiration = <uint32_t>(<long long>wall + self.lifetime)
        if per_address is not self.limiter:  # replaced on reload
            self.limiter = per_address
            self.interval, self.tolerance = per_address.interval, per_address.tolerance
            self.max_entries = per_address.max_entries
        self.tat = per_address._tat  # replaced by its prune: read per batch
        self.quota_limits = quota_limits if quota_limits else None
        self.snapshot = snapshot  # the transaction's: unknown handles' prefixes decided in it are answered
        if snapshot < 0 or snapshot != self.verified_at or db is not self.verified_db \
                or len(self.verified) >= self.max_verified or len(self.absent) >= self.max_verified:
            self.verified.clear()  # another snapshot (or another store): read again
            self.absent.clear()
            self.verified_at, self.verified_db = snapshot, db
        self.unknown_ok = unknown  # nothing else may have a say about a handle with no record

    @property
    def noted(self):
        """Are there answers not yet flushed?"""
        return self.ncounts > 0 or len(self.pending) > 0

    def end(self):
        """After a batch (its transaction ended): nothing is answered until the next ``begin``."""
        self.open = False
        self.get = None

    cdef object peer_name(self, sockaddr_storage *sa):
        """The address as Python's socket module spells it (one string kept for the last one seen)."""
        cdef char text[64]
        cdef const void *raw
        cdef int size
        if sa.ss_family == AF_INET:
            raw, size = &(<sockaddr_in *>sa).sin_addr, 4
        elif sa.ss_family == AF_INET6:
            if (<sockaddr_in6 *>sa).sin6_scope_id:
                return None  # a scoped address: Python's spelling adds the scope; not here
            raw, size = &(<sockaddr_in6 *>sa).sin6_addr, 16
        else:
            return None
        if self.last_peer is not None and self.last_family == sa.ss_family and memcmp(self.last_addr, raw, size) == 0:
            return self.last_peer
        if inet_ntop(sa.ss_family, raw, text, sizeof(text)) == NULL:
            return None
        self.last_peer = (<char *>text).decode("ascii")
        self.last_family = sa.ss_family
        memcpy(self.last_addr, raw, size)
        return self.last_peer

    cdef int answer(self, const uint8_t *d, Py_ssize_t n, object peer, uint8_t *out, Py_ssize_t room) except -2:
        """The answer's length written to ``out``, or 0: hand the request to the Python path."""
        cdef uint32_t opflags, hlen, rc, session, size
        cdef Py_ssize_t end, i, total, tlen
        cdef uint8_t *w
        cdef PyObject *e
        cdef PyObject *hit
        cdef PyObject *t
        cdef object key, entry, tail, prefix, raw
        cdef double tat, now
        cdef int k
        if n < MIN_REQUEST or d[20] | d[21] | d[22] | (d[23] != 1) or d[24] | d[25] | d[26] | d[27] or d[2] & 0xE0:
            return 0  # not a resolution, a response code set, or envelope flags (the Python path decides)
        session = rd32(d + 4)
        opflags = rd32(d + 28)
        hlen = rd32(d + 44)
        if session or opflags & self.slow_flags or hlen > self.max_handle or rd32(d + 40) != hlen + 12:
            return 0
        end = HANDLE_AT + hlen
        if rd32(d + 16) != n - 20 or not (n - end == 8 or n - end == 12):
            return 0
        for i in range(end, n):
            if d[i]:
                return 0  # a filter or a credential
        if not self.open or peer is None:
            return 0
        key = PyBytes_FromStringAndSize(<const char *>d + HANDLE_AT, hlen)
        e = PyDict_GetItem(self.public_only if opflags & self.po_flag else self.plain, key)
        if e != NULL:
            entry = <object>e
            if PyDict_GetItem(self.verified, key) != e:
                raw = self.get(<object>PyTuple_GET_ITEM(entry, 0), None, self.db)
                if raw is None or raw != <object>PyTuple_GET_ITEM(entry, 1):
                    return 0  # changed (or gone) since the answer was made: the Python path makes it again
                if self.verified_at >= 0:
                    PyDict_SetItem(self.verified, key, entry)
            prefix = <object>PyTuple_GET_ITEM(entry, 2)
            if self.quota_limits is not None and PyDict_GetItem(self.quota_limits, prefix) != NULL:
                return 0
            tail = <object>PyTuple_GET_ITEM(entry, 4)
            rc = <uint32_t>PyLong_AsLongLong(<object>PyTuple_GET_ITEM(entry, 3))
            ok = True
        else:
            prefix = self.unknown(d + HANDLE_AT, hlen)
            if prefix is None:
                return 0
            rc = self.unknown_rc
            tail = None  # written below from the request's bytes: no objects made for the answer
            ok = False
        if tail is not None:
            tlen = PyBytes_GET_SIZE(tail)
        elif rc == 100:  # "handle <h> not found"
            tlen = 4 + 7 + hlen + 10 + 4
        else:  # "prefix <p> is not served by this node"
            tlen = 4 + 7 + self.unknown_cut + 27 + 4
        total = ANSWER_HEAD + tlen
        if total > room or total > self.packet:
            return 0
        # The per-address rate: the limiter's own table and arithmetic (resolver/limits.py, admit).
        now = self.now_mono
        t = PyDict_GetItem(self.tat, peer)
        if t == NULL:
            if PyDict_Size(self.tat) >= self.max_entries:
                return 0  # its prune is the Python path's
            tat = now
        else:
            if not PyFloat_Check(<object>t):
                return 0
            tat = PyFloat_AS_DOUBLE(<object>t)
            if tat < now:
                tat = now
            elif tat - now > self.tolerance:
                return 0  # refused: the Python path refuses it in words (RC 3)
        PyDict_SetItem(self.tat, peer, PyFloat_FromDouble(tat + self.interval))
        size = <uint32_t>(tlen - 4)
        out[0], out[1], out[2], out[3] = d[0], d[1], self.suggest_major, self.suggest_minor
        wr32(out + 4, 0)
        memcpy(out + 8, d + 8, 4)  # request id
        wr32(out + 12, 0)
        wr32(out + 16, 24 + size + 4)
        wr32(out + 20, 1)
        wr32(out + 24, rc)
        wr32(out + 28, self.answer_flags | (opflags & self.echo_flags))
        out[32], out[33] = (self.serial >> 8) & 0xFF, self.serial & 0xFF
        out[34], out[35] = 0, 0
        wr32(out + 36, self.expiration)
        wr32(out + 40, size)
        if tail is not None:
            memcpy(out + ANSWER_HEAD, PyBytes_AS_STRING(tail), tlen)
        else:  # the message as resolver/handle/fastpath.py's ``_unknown`` words it, then no values
            w = out + ANSWER_HEAD
            wr32(w, <uint32_t>(tlen - 8))
            w += 4
            if rc == 100:
                memcpy(w, b"handle ", 7)
                memcpy(w + 7, d + HANDLE_AT, hlen)
                memcpy(w + 7 + hlen, b" not found", 10)
            else:
                memcpy(w, b"prefix ", 7)
                memcpy(w + 7, d + HANDLE_AT, self.unknown_cut)
                memcpy(w + 7 + self.unknown_cut, b" is not served by this node", 27)
            wr32(out + total - 4, 0)
        self.note(prefix, peer, rc, ok)
        if ok:  # one dictionary increment per found answer; its keys are the kept answers' (bounded)
            key = <object>PyTuple_GET_ITEM(entry, 0)
            hit = PyDict_GetItem(self.hits, key)
            self.hits[key] = 1 if hit == NULL else <object>hit + 1
        return <int>total

    cdef object unknown(self, const uint8_t *h, Py_ssize_t n):
        """The folded prefix of a handle with no record that is answered here as the Python path answers
        it (resolver/handle/fastpath.py, ``_unknown``), with ``unknown_rc`` (100 or 301) and ``unknown_cut``
        (the prefix's length) set; or None: the Python path's to answer."""
        cdef Py_ssize_t i, cut = -1, dots = 0
        cdef uint8_t c, low[256]
        cdef PyObject *v
        if not self.unknown_ok or n < 3:
            return None
        # protocol/fastpath.py ``plain_handle``: a prefix of [A-Za-z0-9_-] segments joined by single dots, a
        # suffix of printable ASCII without a "." or ".." segment; else the Python path decides.
        for i in range(n):
            c = h[i]
            low[i] = c + 32 if 65 <= c <= 90 else c
            if cut < 0:
                if c == 47:  # "/"
                    if i == 0 or h[i - 1] == 46:
                        return None
                    cut = i
                elif c == 46:  # "."
                    if i == 0 or h[i - 1] == 46:
                        return None
                    dots += 1
                elif not (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c == 45 or c == 95):
                    return None
            elif c < 32 or c > 126:
                return None
        if cut < 0 or cut == n - 1 or dots >= self.max_segments:
            return None
        for i in range(cut, n):  # a "." or ".." segment in the suffix
            if h[i] == 47 and i + 1 < n and h[i + 1] == 46:
                if i + 2 == n or h[i + 2] == 47 or (h[i + 2] == 46 and (i + 3 == n or h[i + 3] == 47)):
                    return None
        if cut == 4 and memcmp(low, b"0.na", 4) == 0:
            return None  # prefix handles: the Python path
        k = PyBytes_FromStringAndSize(<const char *>low, n)
        if PyDict_GetItem(self.absent, k) == NULL:
            if self.get(k, None, self.db) is not None:
                return None  # stored, not kept: the Python path makes the answer and keeps it
            if self.verified_at >= 0:
                PyDict_SetItem(self.absent, k, True)
        p = PyBytes_FromStringAndSize(<const char *>low, cut)
        v = PyDict_GetItem(self.served, p)
        if v == NULL or PyLong_AsLongLong(<object>PyTuple_GET_ITEM(<object>v, 0)) != self.snapshot:
            return None  # not decided in this snapshot: the Python path asks the service
        self.unknown_rc = 100 if <object>PyTuple_GET_ITEM(<object>v, 1) else 301  # not found / not served here
        self.unknown_cut = cut
        return p

    cdef void note(self, object prefix, object peer, uint32_t rc, bint ok):
        cdef int k
        cdef Count *c
        for k in range(self.ncounts):
            c = &self.counts[k]
            if c.peer == <PyObject *>peer and c.rc == rc and c.ok == ok and \
                    (c.prefix == <PyObject *>prefix or <object>c.prefix == prefix):
                c.n += 1
                break
        else:
            if self.ncounts == AGG:
                self.flush_counts()
            c = &self.counts[self.ncounts]
            Py_INCREF(prefix)
            Py_INCREF(peer)
            c.prefix, c.peer, c.rc, c.n, c.ok = <PyObject *>prefix, <PyObject *>peer, rc, 1, ok
            self.ncounts += 1
        self.answered += 1

    cdef void flush_counts(self):
        cdef int k
        cdef Count *c
        notes = []
        for k in range(self.ncounts):
            c = &self.counts[k]
            notes.append((<object>c.prefix, <object>c.peer, c.rc, c.n, c.ok))
            Py_DECREF(<object>c.prefix)
            Py_DECREF(<object>c.peer)
        self.ncounts = 0
        if notes:
            self.pending.append(notes)

    def flush(self):
        """What was answered since the last flush: [(prefix, peer, rc, n, found), …], for resolver/handle/compiled.py
        to count as the Python path counts each answer."""
        self.flush_counts()
        out = [x for notes in self.pending for x in notes]
        self.pending.clear()
        return out

    def answer_bytes(self, bytes data, str peer):
        """The answer to one request (a TCP frame), or None for the Python path."""
        cdef uint8_t buf[OUT]
        cdef int n = self.answer(<const uint8_t *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), peer, buf, OUT)
        if n <= 0:
            return None
        return PyBytes_FromStringAndSize(<const char *>buf, n)

    def tcp(self, bytes data, str peer):
        """Answers to the whole messages at the start of ``data`` (a TCP read with nothing buffered before
        it), as one bytes, and how many bytes of ``data`` they answered; the rest is the Python path's.
        The answers are written one after another into one buffer: one bytes object per read."""
        cdef const uint8_t *d = <const uint8_t *>PyBytes_AS_STRING(data)
        cdef Py_ssize_t pos = 0, n = PyBytes_GET_SIZE(data), length, off = 0
        cdef int m
        while n - pos >= 20:
            length = 20 + rd32(d + pos + 16)
            if length > n - pos or length > DGRAM:
                break
            m = self.answer(d + pos, length, peer, self.tcpbuf + off, TCP_OUT - off)
            if m <= 0:
                break
            off += m
            pos += length
        if off == 0:
            return b"", 0
        return PyBytes_FromStringAndSize(<const char *>self.tcpbuf, off), pos

    cdef int received

    def recv(self, int fd):
        """One recvmmsg of at most BATCH datagrams on ``fd`` (non-blocking): how many were read (0 when
        none, or on an error); ``udp`` then answers them, in the batch ``begin`` opens after this read."""
        cdef int got, i
        for i in range(BATCH):
            self.in_iov[i].iov_base = self.inbuf[i]
            self.in_iov[i].iov_len = DGRAM
            memset(&self.in_msgs[i], 0, sizeof(mmsghdr))
            self.in_msgs[i].msg_hdr.msg_name = &self.names[i]
            self.in_msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage)
            self.in_msgs[i].msg_hdr.msg_iov = &self.in_iov[i]
            self.in_msgs[i].msg_hdr.msg_iovlen = 1
        with nogil:
            got = recvmmsg(fd, self.in_msgs, BATCH, MSG_DONTWAIT, NULL)
        self.received = got if got > 0 else 0
        return self.received

    def udp(self, int fd):
        """Answer the datagrams ``recv`` read: the ones answered here go out on ``fd`` in one sendmmsg;
        returns [(bytes, sockaddr bytes), …] for the Python path, or None."""
        cdef int got = self.received, i, m, nout = 0, sent = 0
        cdef sockaddr_storage *sa
        cdef object peer
        self.received = 0
        misses = None
        for i in range(got):
            sa = &self.names[i]
            peer = self.peer_name(sa)
            m = 0
            if not (self.in_msgs[i].msg_hdr.msg_flags & 0x20):  # MSG_TRUNC: longer than our buffer
                m = self.answer(self.inbuf[i], self.in_msgs[i].msg_len, peer, self.outbuf[nout], OUT)
            if m > 0:
                self.out_iov[nout].iov_base = self.outbuf[nout]
                self.out_iov[nout].iov_len = m
                memset(&self.out_msgs[nout], 0, sizeof(mmsghdr))
                self.out_msgs[nout].msg_hdr.msg_name = sa
                self.out_msgs[nout].msg_hdr.msg_namelen = self.in_msgs[i].msg_hdr.msg_namelen
                self.out_msgs[nout].msg_hdr.msg_iov = &self.out_iov[nout]
                self.out_msgs[nout].msg_hdr.msg_iovlen = 1
                nout += 1
            else:
                if misses is None:
                    misses = []
                if self.in_msgs[i].msg_hdr.msg_flags & 0x20:
                    continue  # a truncated datagram: more than any request the node takes over UDP
                misses.append((PyBytes_FromStringAndSize(<const char *>self.inbuf[i], self.in_msgs[i].msg_len),
                               PyBytes_FromStringAndSize(<const char *>sa, self.in_msgs[i].msg_hdr.msg_namelen)))
        while sent < nout:
            with nogil:
                m = sendmmsg(fd, &self.out_msgs[sent], nout - sent, MSG_DONTWAIT)
            if m <= 0:
                break  # the send buffer is full: those answers are lost, as a datagram may be
            sent += m
        return misses
