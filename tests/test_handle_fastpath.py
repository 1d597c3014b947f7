"""The dispatcher in process, bytes in and answer out, over a real store: the fast path answers every
plain resolution exactly as the full path does, counts what the full path counts, and drops a kept
answer at the write that changes its record."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import bodies as b
from protocol import fastpath as fp
from protocol.codes import RC
from protocol.envelope import CT, KA, PO, RD, REC, Op
from protocol.message import Message, decode_message, encode
from protocol.values import ADMIN_READ, HandleValue
from resolver.credentials import Identity
from resolver.handle.dispatch import Dispatcher
from resolver.handle.siteinfo import node_site
from resolver.service import Service
from storage import GroupCommitter, Store

NOW = 1_790_000_000.0
OWNER = Identity(300, "0.NA/88.101.5")
PUBLIC = [f"88.101.5/P-{i}" for i in range(6)]
PRIVATE = ["88.101.5/S-1"]
EMPTY_FOR_ANYONE = ["88.101.5/Z-1"]  # every value of its own private (its HS_ADMIN is added, public)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, seeded):
    """A store with public records, one with a private value, one with only private values."""
    import shutil

    data = tmp_path_factory.mktemp("fast") / "data"
    shutil.copytree(seeded, data)
    store = Store(data)
    svc = Service(store, GroupCommitter(store))

    async def load():
        for h in PUBLIC:
            await svc.put_handle(h, [HandleValue(1, "URL", f"https://example.com/{h}".encode()),
                                     HandleValue(2, "EMAIL", b"ops@example.com")], OWNER)
        await svc.put_handle(PRIVATE[0], [HandleValue(1, "URL", b"https://example.com/s"),
                                          HandleValue(2, "NOTE", b"internal", permissions=ADMIN_READ)], OWNER)
        await svc.put_handle(EMPTY_FOR_ANYONE[0], [HandleValue(2, "NOTE", b"x", permissions=ADMIN_READ)], OWNER)

    asyncio.run(load())
    yield svc
    svc.committer.close()
    store.close()


def _dispatcher(svc: Service) -> Dispatcher:
    return Dispatcher(svc, node_site("127.0.0.1", 2641, 8000, b"").to_wire(), sealer=None, site_serial=3)


def _request(handle: str, opflags: int = 0, request_id: int = 7, session_id: int = 0, version=(2, 10)) -> bytes:
    return encode(Message(Op.RESOLUTION, b.ResolutionRequest(handle), opflags=opflags, request_id=request_id,
                          session_id=session_id, major=version[0], minor=version[1]))


def _full(d: Dispatcher, data: bytes) -> fp.Answer:
    """The answer of the full path alone (the fast path not consulted)."""
    d._now = NOW
    out = d._full(data, True, ("udp", "192.0.2.9"), "192.0.2.9", None, 0.0)
    assert isinstance(out, fp.Answer)
    return out


def _quick(d: Dispatcher, data: bytes) -> fp.Answer:
    out = d.quick(data, udp=True, owner=("udp", "192.0.2.9"), peer="192.0.2.9", now=NOW)
    assert isinstance(out, fp.Answer)
    return out


HANDLES = PUBLIC + PRIVATE + EMPTY_FOR_ANYONE + [
    "88.101.5/p-1",  # another spelling of a stored handle: answered under the spelling asked
    "88.101.5/NOPE", "88.101.5/a/b.c", "88.101.6/NOPE",  # unknown, under served prefixes
    "99.1/NOPE", "77/x y",  # prefixes not served here
    "88.101.5/./x", "88.101.5/..", "bad prefix/x", "88.101.5/", "noslash", "hdl:88.101.5/P-1",
    "0.NA/88.101.5", "88.101.5/é", "88.101.5/tab\there",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(handle=st.one_of(st.sampled_from(HANDLES), st.text(min_size=0, max_size=40).map(lambda s: "88.101.5/" + s),
                        st.text(min_size=0, max_size=30)),
       flags=st.sets(st.sampled_from([PO, KA, REC, RD, CT])).map(sum),
       request_id=st.integers(0, 2**32 - 1), session_id=st.sampled_from([0, 0, 99]),
       version=st.sampled_from([(2, 10), (2, 11), (3, 0), (2, 1)]))
def test_the_fast_path_answers_byte_for_byte_as_the_full_path(loaded, handle, flags, request_id, session_id, version):
    d = _dispatcher(loaded)
    data = _request(handle, flags, request_id, session_id, version)
    reference = _full(d, data)
    first, second = _quick(d, data), _quick(d, data)  # the second from what the first kept, if anything
    if reference.rc == RC.AUTHENTICATION_NEEDED:  # a challenge carries a new nonce and session id each time
        assert (first.opcode, first.rc) == (second.opcode, second.rc) == (reference.opcode, reference.rc)
        return
    assert first == reference
    assert second == reference
    # The compiled path (resolver/handle/_compiled.pyx) answers the same bytes, or hands the request back.
    got = _compiled(d, data)
    if got is not None:
        assert got == reference.data
    if not flags & (CT | RD) and session_id == 0:
        if handle in PUBLIC:
            assert got is not None, "a kept public answer is the compiled path's to give"
        h = handle.encode()
        if reference.rc in (RC.HANDLE_NOT_FOUND, RC.SERVER_NOT_RESPONSIBLE) and h.isascii() and fp.plain_handle(h) \
                and not h.lower().startswith(b"0.na/"):
            assert got is not None, "an unknown handle under a prefix decided before is the compiled path's to answer"


def _compiled(d: Dispatcher, data: bytes) -> bytes | None:
    """The compiled path's answer to ``data`` (None: handed to the Python path), at the clock ``NOW``."""
    from resolver.handle import compiled

    assert compiled._compiled is not None, "the compiled fast path is not built (make builds it)"
    counting = compiled.Counting(d, "udp")
    svc = d.service
    with svc.store.env.begin(buffers=False) as txn:
        counting.table.begin(txn.get, svc.store.dbs["handles"], NOW, time.perf_counter(), svc.limits.per_address,
                             svc.quotas.limits, txn.id(), True)
        try:
            return counting.table.answer_bytes(data, "192.0.2.9")
        finally:
            counting.table.end()
            counting.table.flush()


def test_plain_resolutions_are_answered_from_kept_answers(loaded):
    d = _dispatcher(loaded)
    for h in PUBLIC + ["88.101.5/NOPE", "99.1/NOPE"]:
        _quick(d, _request(h))
    learned, fast = d.fast.learned, d.fast.fast
    for h in PUBLIC + ["88.101.5/NOPE", "99.1/NOPE"]:
        out = _quick(d, _request(h, PO, request_id=1234))
        assert fp.request_id(out.data) == 1234
    # The unknown ones need nothing kept; the known ones are made once more, for the PO shape.
    assert (d.fast.fast, d.fast.learned) == (fast + 2, learned + len(PUBLIC))
    for h in PUBLIC:
        assert _quick(d, _request(h, PO)).rc == RC.SUCCESS
    assert (d.fast.fast, d.fast.learned) == (fast + 2 + len(PUBLIC), learned + len(PUBLIC))


def test_unknown_handles_and_private_records_are_answered_as_the_service_answers(loaded):
    d = _dispatcher(loaded)
    assert _quick(d, _request("88.101.5/NOPE")).rc == RC.HANDLE_NOT_FOUND
    assert _quick(d, _request("99.1/NOPE")).rc == RC.SERVER_NOT_RESPONSIBLE
    # A record with a private value: an anonymous caller who did not say "public only" is challenged
    # (never answered from a kept answer); with PO it gets the public values, kept.
    assert _quick(d, _request(PRIVATE[0])).rc == RC.AUTHENTICATION_NEEDED
    assert _quick(d, _request(PRIVATE[0])).rc == RC.AUTHENTICATION_NEEDED
    po = decode_message(_quick(d, _request(PRIVATE[0], PO)).data)
    assert "URL" in [v.type for v in po.body.values] and "NOTE" not in [v.type for v in po.body.values]
    po = decode_message(_quick(d, _request(EMPTY_FOR_ANYONE[0], PO)).data)
    assert "NOTE" not in [v.type for v in po.body.values]


def test_a_write_drops_the_kept_answer_at_once(loaded):
    d = _dispatcher(loaded)
    h = PUBLIC[0]
    before = decode_message(_quick(d, _request(h)).data)
    assert any(v.data == f"https://example.com/{h}".encode() for v in before.body.values)
    asyncio.run(loaded.put_handle(h, [HandleValue(1, "URL", b"https://example.com/changed")], OWNER))
    after = decode_message(_quick(d, _request(h)).data)
    assert [v.data for v in after.body.values if v.type == "URL"] == [b"https://example.com/changed"]
    asyncio.run(loaded.delete_handle(h, OWNER))
    assert _quick(d, _request(h)).rc == RC.HANDLE_NOT_FOUND


def test_the_fast_path_counts_what_the_full_path_counts(loaded):
    """The reports' per-prefix counts and the daily quota see every resolution, kept answers included."""
    d = _dispatcher(loaded)
    h = PUBLIC[1]
    _quick(d, _request(h))  # made by the full path, and kept
    before = dict(loaded.resolutions)
    fast = d.fast.fast
    for _ in range(5):
        _quick(d, _request(h))
    assert d.fast.fast == fast + 5
    assert loaded.resolutions[b"88.101.5"] == before.get(b"88.101.5", 0) + 5


def test_a_daily_quota_refuses_kept_answers_too(loaded):
    d = _dispatcher(loaded)
    h = PUBLIC[2]
    _quick(d, _request(h))
    quotas = loaded.quotas
    saved = (quotas.limits, quotas.loaded, dict(quotas.counts), quotas.day)
    try:
        quotas.limits = {b"88.101.5": 2}
        quotas.loaded = quotas.monotonic() + 3600  # not re-read from the store during the test
        quotas.counts.clear()
        quotas.day = int(quotas.clock() // 86_400)
        rcs = [_quick(d, _request(h)).rc for _ in range(4)]
        assert rcs == [RC.SUCCESS, RC.SUCCESS, RC.REQUEST_LIMIT_DAILY, RC.REQUEST_LIMIT_DAILY]
    finally:
        quotas.limits, quotas.loaded, quotas.counts, quotas.day = saved[0], saved[1], saved[2], saved[3]


def test_the_answer_carries_its_opcode_and_code_and_the_clock_it_was_given(loaded):
    d = _dispatcher(loaded)
    for h in (PUBLIC[3], "88.101.5/NOPE"):
        for _ in range(2):
            out = _quick(d, _request(h))
            assert (out.opcode, out.rc) == fp.opcode_rc(out.data)
            assert decode_message(out.data).expiration == int(NOW) + 12 * 3600
