"""The service in process: built with its collaborators over a real LMDB store in a temp folder, no node
started. Typed operation in, result (or typed refusal) out; what a transport adds is tested elsewhere."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocol.batchjson import Batch
from protocol.codes import RC, HandleError
from protocol.prefixes import AllocatedPrefix, AllocatePrefix, decode_allocate, encode_allocated
from protocol.refusals import Conflict
from protocol.values import HandleValue
from resolver.credentials import Identity
from resolver.handle.siteinfo import multi_site
from resolver.keys.keyfiles import hs_pubkey, load_or_create_node_key
from resolver.service import Intent, Service
from resolver.service.base import ReadOnlyMirror
from resolver.service.federation import NotHeld, Share
from storage import GroupCommitter, Store
from storage.commit import run_group
from tests.nodes import ADMIN_SECRET, ENTERPRISES

URL = HandleValue(1, "URL", b"https://example.com/a")
ACME = Identity(300, "0.NA/88.101.5")  # the admin of enterprise 88.101.5 (after it proved itself)
OTHER = Identity(300, "0.NA/88.101.6")


@pytest.fixture
def store(seeded: Path, tmp_path: Path) -> Iterator[Store]:
    shutil.copytree(seeded, tmp_path / "data")
    s = Store(tmp_path / "data")
    yield s
    s.close()


def service(store: Store, **collaborators) -> Service:
    return Service(store, GroupCommitter(store), **collaborators)


def run(svc: Service, coro):
    try:
        return asyncio.run(coro)
    finally:
        svc.committer.close()


def test_a_handle_registered_by_its_prefix_admin_resolves_and_another_enterprise_may_not_touch_it(store):
    svc = service(store)

    async def story():
        assert await svc.put_handle("88.101.5/S1", [URL], ACME) == ("88.101.5/S1", "created")
        with pytest.raises(HandleError) as refused:
            await svc.put_handle("88.101.5/S1", [URL._replace(data=b"https://evil")], OTHER)
        return refused.value

    refused = run(svc, story())
    assert refused.rc == RC.NOT_AUTHORIZED
    res = svc.resolve("88.101.5/S1")
    assert [(v.index, v.type, v.data) for v in res.values if v.type == "URL"] == [(1, "URL", b"https://example.com/a")]


def test_a_secret_proves_an_identity_and_a_wrong_one_is_refused(store):
    svc = service(store)

    async def story():
        me = await svc.authenticate(300, "0.NA/88.101.5", ENTERPRISES["88.101.5"])
        admin = await svc.authenticate(300, "0.NA/88.101", ADMIN_SECRET)
        with pytest.raises(HandleError) as wrong:
            await svc.authenticate(300, "0.NA/88.101.5", "not-the-secret")
        return me, admin, wrong.value

    me, admin, wrong = run(svc, story())
    assert (me.handle, me.node_admin) == ("0.NA/88.101.5", False)
    assert admin.node_admin
    assert wrong.rc == RC.AUTHENTICATION_NEEDED and "wrong secret" in wrong.message


def test_the_node_admin_allocates_a_prefix_and_its_admin_gets_a_working_secret(store):
    svc = service(store)

    async def story():
        admin = await svc.authenticate(300, "0.NA/88.101", ADMIN_SECRET)
        done = await svc.allocate_prefix(AllocatePrefix("88.101.9", {"name": "Nine"}), admin)
        with pytest.raises(HandleError) as not_admin:
            await svc.allocate_prefix(AllocatePrefix("88.101.10"), ACME)
        who = await svc.authenticate(300, "0.NA/88.101.9", done.secret)
        return done, not_admin.value, who

    done, not_admin, who = run(svc, story())
    assert isinstance(done, AllocatedPrefix) and done.prefix == "88.101.9"
    assert (done.record["state"], done.record["owner"]) == ("enabled", {"name": "Nine"})
    assert encode_allocated(done)["secret"] == done.secret  # shown this once
    assert not_admin.rc == RC.NOT_AUTHORIZED
    assert who.handle == "0.NA/88.101.9"
    assert svc.get_prefix("88.101.9", who)["admin"] == "300:0.NA/88.101.9"


def test_an_allocation_request_is_checked_when_it_is_made_whatever_the_transport():
    """The typed request refuses what no transport may pass on: the JSON codec and the CLI alike."""
    with pytest.raises(HandleError) as bad_owner:
        decode_allocate({"prefix": "88.101.9", "owner": {"shoeSize": "44"}})
    assert bad_owner.value.rc == RC.INVALID_VALUE and bad_owner.value.field == "owner.shoeSize"
    with pytest.raises(HandleError) as short:
        AllocatePrefix("88.101.9", secret="short").checked()
    assert short.value.field == "secret"
    with pytest.raises(HandleError) as not_a_prefix:
        decode_allocate({"prefix": "not a prefix"})
    assert not_a_prefix.value.rc == RC.INVALID_HANDLE
    assert decode_allocate(None) == AllocatePrefix()


def test_an_unauthenticated_oversized_write_is_refused_before_its_body_is_parsed(store):
    """Admission refuses on the intent alone (no body at all); the batch operation itself refuses an
    anonymous caller before it decodes anything: a 20 MB body that is not even JSON is answered
    'authentication needed', not 'invalid JSON', and nothing is written."""
    svc = service(store)
    with pytest.raises(HandleError) as admitted:
        svc.admit(Intent("batch"), None)
    assert admitted.value.rc == RC.AUTHENTICATION_NEEDED
    with pytest.raises(HandleError) as anonymous:
        run(svc, svc.batch(Batch.json(b"[" * 20_000_000), None))
    assert anonymous.value.rc == RC.AUTHENTICATION_NEEDED
    with store.read() as tx:
        assert tx.count_handles("88.101.5") == 0


def test_admission_refuses_on_the_path_before_the_body(store):
    svc = service(store)
    assert svc.admit(Intent("put_handle", "88.101.5/X"), ACME) is ACME
    with pytest.raises(HandleError) as other:
        svc.admit(Intent("put_handle", "88.101.5/X"), OTHER)
    assert other.value.rc == RC.NOT_AUTHORIZED
    with pytest.raises(HandleError) as prefixes:
        svc.admit(Intent("allocate_prefix"), ACME)
    assert prefixes.value.rc == RC.NOT_AUTHORIZED
    svc.committer.close()


def test_a_batch_gives_a_result_per_item(store):
    svc = service(store)
    body = (b'[{"op":"create","handle":"88.101.5/B1","values":[{"index":1,"type":"URL","data":"https://b1"}]},'
            b'{"op":"create","handle":"88.101.6/B2","values":[{"index":1,"type":"URL","data":"https://b2"}]}]')
    out = run(svc, svc.batch(Batch.json(body), ACME))
    assert (len(out.results), out.succeeded, out.failed) == (2, 1, 1)
    assert [r.rc for r in out.results] == [RC.SUCCESS, RC.NOT_AUTHORIZED]


def test_a_record_naming_a_missing_template_is_refused_by_the_template_check(store):
    svc = service(store)
    named = [URL, HandleValue(1001, "TEMPLATE", b"no-such-version")]
    with pytest.raises(HandleError) as refused:
        run(svc, svc.put_handle("88.101.5/T1", named, ACME))
    assert refused.value.rc == RC.INVALID_VALUE and "no template version no-such-version" in refused.value.message


def test_the_site_share_the_service_is_built_with_decides_which_handles_this_server_takes(store, tmp_path):
    """One server of a site of two: the service it is built with refuses the handles the hash gives to
    the other server, naming where they go; a service built without a share takes them all."""
    key = load_or_create_node_key(tmp_path / "key")
    servers = [("127.0.0.1", 2641, 8000), ("127.0.0.2", 2641, 8001)]
    share = Share(multi_site(servers, 1, hs_pubkey(key)), 0, ["http://127.0.0.1:8000", "http://127.0.0.2:8001"])
    handles = [f"88.101.5/H{n}" for n in range(20)]
    elsewhere = []
    for h in handles:
        try:
            share.check(h)
        except NotHeld:
            elsewhere.append(h)
    assert 0 < len(elsewhere) < len(handles)
    svc = service(store, share=share)
    with pytest.raises(NotHeld) as refused:
        run(svc, svc.put_handle(elsewhere[0], [URL], ACME))
    assert refused.value.redirect_to == "http://127.0.0.2:8001"
    plain = service(store)
    assert run(plain, plain.put_handle(elsewhere[0], [URL], ACME))[1] == "created"


def test_a_mirror_refuses_writes_with_a_referral_to_its_primary(store):
    [(ok, _)] = run_group(store, [lambda tx: tx.put_meta("mirror_of", "http://primary.example:8000")])
    assert ok
    svc = service(store)
    with pytest.raises(ReadOnlyMirror) as refused:
        run(svc, svc.put_handle("88.101.5/M1", [URL], ACME))
    assert refused.value.rc == RC.SERVER_BACKUP and refused.value.redirect_to == "http://primary.example:8000"


def test_a_bearer_token_stands_for_the_identity_it_was_issued_to_until_revoked(store):
    svc = service(store)

    async def story():
        token, _ = await svc.issue_token(ACME)
        who = await svc.identity_from_basic(f"Bearer {token}")
        await svc.revoke_token(token, ACME)
        with pytest.raises(HandleError) as revoked:
            await svc.identity_from_basic(f"Bearer {token}")
        return who, revoked.value

    who, revoked = run(svc, story())
    assert who == ACME
    assert revoked.rc == RC.AUTHENTICATION_NEEDED and "revoked" in revoked.message


def test_the_service_is_composed_not_mixed_in(store):
    """One core and operation groups that hold it: no group inherits another (so none can replace a
    sibling's hook), and every collaborator is the instance's own, none a class-level default."""
    from resolver.service import OPERATIONS
    from resolver.service.base import Core

    assert Service.__mro__ == (Service, Core, object)
    svc = service(store)
    for group, names in OPERATIONS.items():
        ops = getattr(svc, group)
        assert ops.svc is svc
        assert all(c is object or c.__module__ == type(ops).__module__ for c in type(ops).__mro__), group
        for name in names:
            assert getattr(svc, name).__self__ is ops, name
    collaborators = ("store", "committer", "policy", "check_template", "epcis", "role", "remote", "traces", "share",
                     "counters", "deposits")
    assert not [c for c in collaborators if c in vars(Service) or c in vars(Core)]
    svc.committer.close()


def test_the_service_names_the_kind_of_a_refusal_not_an_http_status(store):
    """A prefix that still holds handles cannot be deleted: the service raises a Conflict (response code
    2 and a message); that a REST client gets 409 for it is the codec's, protocol/refusals.py."""
    svc = service(store)

    async def story():
        await svc.put_handle("88.101.5/KEEP", [URL], ACME)
        with pytest.raises(Conflict) as holding:
            await svc.delete_prefix("88.101.5", svc.operator())
        return holding.value

    holding = run(svc, story())
    assert holding.rc == RC.ERROR and "still holds 1 handles" in holding.message
    assert holding.status == Conflict.STATUS == 409


def test_a_refused_allocation_is_audited_whoever_built_the_request(store):
    """The CLI builds the typed request itself: its bad secret is still refused by the operation, after
    the caller was checked, and recorded in the audit trail as the operation's refusal."""
    from resolver import audit_trail as audit

    svc = service(store)
    with store.read() as tx:
        _, before = tx.audit_bounds()

    async def story():
        with pytest.raises(HandleError) as short:
            await svc.allocate_prefix(AllocatePrefix("88.101.9", secret="short"), svc.operator(), caller=audit.CLI)
        await asyncio.sleep(0.2)  # refusals are written in batches through the committer
        return short.value

    short = run(svc, story())
    assert short.field == "secret"
    with store.read() as tx:
        entries = [e for _, e in tx.audit_from(before + 1)]
    assert [(e["op"], e["result"], e["protocol"], e["identity"]) for e in entries] == [
        ("allocate_prefix", "denied", "cli", "300:0.NA/88.101")]
