"""Resolve, register, change, delete and list handles: the operations every transport calls."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING

from protocol import admin as adm
from protocol.codes import RC, HandleError
from protocol.gs1 import lookup_keys
from protocol.handles import MAX_HANDLE_BYTES, fold, key, split, strip_scheme
from protocol.refusals import PreconditionFailed, ValueMissing
from protocol.values import (
    HS_ADMIN,
    HS_SECKEY,
    MAX_VALUES,
    HandleValue,
    check_distinct,
    check_values,
    merge,
    same_content,
    stamped,
    with_admin,
)
from storage import Record, Tx
from storage.records import unpack_record

from ..audit_trail import Attempt, mutation
from ..credentials import Identity, Seal, hash_secret, is_verifier, verifier_problem
from ..federation.remote import RemoteAnswer
from ..quotas import check_register
from .base import TxMemo
from .cache import ALL_PUBLIC, Resolution, record_version
from .federation import Referral

if TYPE_CHECKING:
    from . import Service

MAX_PAGE_SIZE = 10_000


def same_values(a: list[HandleValue], b: list[HandleValue]) -> bool:
    """Equal records, ignoring timestamps (an idempotent retry must not count as a change)."""
    return len(a) == len(b) and all(same_content(x, y) for x, y in zip(a, b, strict=True))


def plain_secrets(values: list[HandleValue]) -> bool:
    """Does a write carry an HS_SECKEY value to hash (a secret, not a verifier this node made)?"""
    return any(v[1] == HS_SECKEY and not is_verifier(v[2]) for v in values)


def hash_secret_values(values: list[HandleValue], seal: Seal | None = None) -> list[HandleValue]:
    """HS_SECKEY values are kept only as salted slow hashes. A value that already is a verifier stays
    only if it is one this node would make (credentials.verifier_problem); otherwise it is refused.
    Slow (scrypt per secret): run it in the service's hash pool, once the write is authorized."""
    out = []
    for v in values:
        if v.type == HS_SECKEY:
            if not is_verifier(v.data):
                v = v._replace(data=hash_secret(v.data.decode("utf-8", "replace"), seal=seal).encode(), fmt="string")
            else:
                check_verifier(v)
        out.append(v)
    return out


def check_verifier(v: HandleValue) -> None:
    problem = verifier_problem(v.data)
    if problem is not None:
        raise HandleError(RC.INVALID_VALUE, f"the HS_SECKEY value at index {v.index} looks like a verifier, "
                          f"but {problem}", field="values")


def check_secret_values(values: list[HandleValue]) -> list[HandleValue]:
    """What every write does first to the values a transport decoded: limits, and verifiers given as
    they are checked (cheap). Hashing secrets comes later, after authorization."""
    return check_secrets(values)[0]


def check_secrets(values: list[HandleValue]) -> tuple[list[HandleValue], bool]:
    """``check_secret_values``, and whether a secret is left to hash (``plain_secrets``), in one pass:
    only an HS_SECKEY value is looked at further, so a record without one costs a type test a value."""
    values = check_values(values)
    plain = False
    for v in values:
        if v[1] == HS_SECKEY:
            if is_verifier(v[2]):
                check_verifier(v)
            else:
                plain = True
    return values, plain


def prepare_values(values: list[HandleValue], seal: Seal | None = None) -> list[HandleValue]:
    """Limits, and secrets hashed, in one step: for the operator's own tools (idnode import), which
    are authorized by running on the node."""
    values, plain = check_secrets(values)
    return hash_secret_values(values, seal) if plain else values


_by_index = itemgetter(0)


@dataclass(frozen=True, slots=True)
class Precondition:
    """A conditional write (RFC 9110 §13: If-Match, If-None-Match), on the record's version
    (``cache.record_version``). ``None`` in a field: that header was not sent; ``"*"``: any version."""

    match: frozenset[str] | None = None
    none_match: frozenset[str] | None = None

    def check(self, handle: str, raw: bytes | None) -> None:
        current = record_version(raw) if raw is not None else None
        if self.match is not None:
            if current is None:
                raise PreconditionFailed(RC.HANDLE_NOT_FOUND, f"If-Match: handle {handle} does not exist",
                                         field="If-Match")
            if "*" not in self.match and current not in self.match:
                raise PreconditionFailed(RC.INVALID_VALUE, f"If-Match: handle {handle} has changed (its version is "
                                         f"now \"{current}\"); read it again", field="If-Match")
        if self.none_match is not None and current is not None:
            if "*" in self.none_match:
                raise PreconditionFailed(RC.HANDLE_ALREADY_EXISTS, f"If-None-Match: handle {handle} already exists",
                                         field="If-None-Match")
            if current in self.none_match:
                raise PreconditionFailed(RC.INVALID_VALUE, f"If-None-Match: handle {handle} is at version "
                                         f"\"{current}\"", field="If-None-Match")


class HandleOps:
    """Resolve, register, change, delete and list handles."""

    def __init__(self, svc: Service):
        self.svc = svc

    # --- reads ------------------------------------------------------------------------------------
    def resolve(self, handle: str, *, indexes: set[int] | None = None, types: list[str] | None = None,
                identity: Identity | None = None, client: str | None = None, t0: float = 0.0) -> Resolution:
        """A handle's values as ``identity`` may read them (non-public values only for its admins).
        ``client`` (its address) and ``t0`` (when it asked, perf_counter) feed the reports' counts."""
        svc = self.svc  # the hot path: one look-up
        handle = strip_scheme(handle)
        # A spelling that folds to a stored key is valid, so syntax is checked only on a miss, where
        # it decides the answer (invalid, not served here, or not found).
        try:
            k = key(handle)
        except UnicodeEncodeError:
            k = b""
        raw = svc.store.get_raw(k) if 0 < len(k) <= MAX_HANDLE_BYTES else None
        if raw is None and svc.deposits is not None:  # a top-level node serving a secondary's deposit
            raw = svc.deposits.get_raw(k)
        if raw is None:
            if svc.counters is not None and b"/" in k:
                svc.counters.resolved(k[:k.index(b"/")], False, client, t0)
            remote = svc.remote
            if remote is not None:
                hit = remote.cached(k)
                if hit is not None:
                    return RemoteAnswer(handle, hit, indexes, types)
            prefix, suffix = split(handle)
            if svc.share is not None:
                svc.share.check(handle)
            with svc.store.read() as tx:
                if svc.role == "top" and fold(prefix) != "0.na":
                    found = svc.federation.delegation(tx, prefix)
                    if found is not None:
                        raise Referral(handle, *found)
                if not svc.serves(tx, prefix, suffix):
                    raise HandleError(RC.SERVER_NOT_RESPONSIBLE, f"prefix {prefix} is not served by this node",
                                      field="handle")
            raise HandleError(RC.HANDLE_NOT_FOUND, f"handle {handle} not found", field="handle")
        entry, record = svc.cache.get(k, raw)
        full = False
        if identity is not None and not entry[ALL_PUBLIC]:
            record = record or unpack_record(raw)
            prefix, _, suffix = handle.partition("/")
            with svc.store.read() as tx:
                full = svc.may_administer(tx, identity, prefix, suffix, record, adm.READ_VALUE)
        self.count_found(k[:k.index(b"/")], client, t0, k)
        return Resolution(handle, k, entry, svc.cache, record, indexes, types, full)

    def count_found(self, p: bytes, client: str | None, t0: float, k: bytes | None = None) -> None:
        """What each found resolution under folded prefix ``p`` costs: the prefix's daily quota (RC 603
        raised when spent), then the counts for the reports (``k``, the folded handle key: the top
        identifiers). Also called by the HTTP front, which answers from kept bytes without ``resolve``
        (resolver/http/front.py)."""
        svc = self.svc
        svc.quotas.admit(p)  # RC 603: the prefix's daily requests
        counters = svc.counters
        if counters is not None:  # it hands the found ones to ``resolutions`` once a second
            counters.resolved(p, True, client, t0, k)
        else:
            svc.resolutions[p] = svc.resolutions.get(p, 0) + 1

    def version_of(self, handle: str) -> str | None:
        """The version (ETag) of a record as stored now, None when there is none."""
        try:
            raw = self.svc.store.get_raw(key(strip_scheme(handle)))
        except UnicodeEncodeError:
            return None
        return record_version(raw) if raw is not None else None

    def handle_for_gs1(self, key: str) -> str | None:
        """The handle whose record carries GS1 key ``key`` (a value of type GS1): the item's, else its
        lot's, else its product's (``protocol.gs1.lookup_keys``, most specific first)."""
        with self.svc.store.read() as tx:
            for k in lookup_keys(key):
                hk = tx.handle_for_gs1(k)
                if hk is not None:
                    raw = tx.get_raw(hk)
                    if raw is not None:
                        return unpack_record(raw).handle
        return None

    def list_handles(self, prefix: str, page: int, page_size: int, identity: Identity | None) -> tuple[list[str], int]:
        """A page of the handles under a prefix, for the prefix's admins (LIST_HANDLES)."""
        if page < 0 or not 0 < page_size <= MAX_PAGE_SIZE:
            raise HandleError(RC.INVALID_VALUE, f"page must be ≥ 0 and pageSize 1…{MAX_PAGE_SIZE}", field="pageSize")
        split(prefix + "/x")  # validates the prefix
        with self.svc.store.read() as tx:
            self.svc.authorize(tx, identity, prefix, "", None, adm.LIST_HANDLES, f"list handles under {prefix}")
            return tx.list_handles(prefix, page * page_size, page_size), tx.count_handles(prefix)

    # --- writes -----------------------------------------------------------------------------------
    @mutation("put_handle", target=0)
    async def put_handle(self, att: Attempt, handle: str, values: list[HandleValue], identity: Identity | None, *,
                         overwrite: bool = True, indexes: list[int] | None = None, mint: bool = False,
                         must_exist: bool = False, precondition: Precondition | None = None) -> tuple[str, str]:
        """Create or replace a record, or with ``indexes`` add or replace those values.

        ``overwrite=False`` refuses to replace a handle (or, with ``indexes``, a value) that exists;
        ``must_exist`` (with ``indexes``) refuses to add a value that does not (modify only);
        ``precondition``: the write happens only on the version it names (checked in its transaction).

        Returns (handle, "created" | "replaced" | "updated" | "unchanged").
        """
        t0 = time.perf_counter()
        handle = strip_scheme(handle)
        if mint:
            if not handle.endswith("/"):
                raise HandleError(RC.INVALID_HANDLE, "mintNewSuffix needs a handle of the form PREFIX/",
                                  field="handle")
            handle = handle + str(uuid.uuid4())
            att.note(target=handle)
        prefix, suffix = split(handle)
        self.svc.quotas.admit_prefix(prefix)  # RC 603
        now = self.svc.now()
        new = check_secret_values(values)
        if indexes is not None:
            check_distinct(indexes)
            missing = set(indexes) - {v.index for v in new}
            if missing:
                raise HandleError(RC.INVALID_VALUE, f"index {sorted(missing)[0]} is named in the query but no value "
                                  "in the body has it", field="index")
        if plain_secrets(new):
            # Hashing costs tens of milliseconds a secret: only for a caller who may make this write
            # (checked again, with the record as it then is, in the write's own transaction).
            if self.svc.mirror_of is not None:
                self.svc.refuse_writes_if_mirror()
            with self.svc.store.read() as tx:
                self.svc.check_writable(tx, prefix, suffix)
                self.authorize_put(tx, identity, handle, prefix, suffix, tx.get_handle(handle), new,
                                    partial=indexes is not None)
            new = await self.hash_secrets(new, identity)
        new = stamped(new, now)

        def op(tx: Tx) -> str:
            if precondition is None:
                old = tx.get_handle(handle)
            else:
                raw = tx.get_raw(key(handle))
                precondition.check(handle, raw)
                old = unpack_record(raw) if raw is not None else None
            return self.apply_put(tx, identity, handle, prefix, suffix, old, new, now,
                                   overwrite=overwrite, partial=indexes is not None, must_exist=must_exist)

        result = await self.svc.write(op, attempt=att)
        if result == "created" and self.svc.counters is not None:
            self.svc.counters.registered(t0)
        return handle, result

    def apply_put(self, tx: Tx, identity: Identity | None, handle: str, prefix: str, suffix: str,
                   old: Record | None, new: list[HandleValue], now: int, *, overwrite: bool, partial: bool,
                   same_if_exists: bool = False, must_exist: bool = False, memo: TxMemo | None = None,
                   k: bytes | None = None) -> str:
        """Apply a put inside a write transaction. ``new`` carries the write's timestamp already.
        ``same_if_exists`` lets a create that finds the same record succeed ("unchanged"), so a batch
        re-sent after a time-out duplicates nothing."""
        self.svc.check_writable(tx, prefix, suffix, memo)
        if partial:
            self.authorize_put(tx, identity, handle, prefix, suffix, old, new, partial=True, memo=memo)
            if must_exist:
                absent = {v.index for v in new} - {v.index for v in old.values}
                if absent:
                    raise ValueMissing(RC.VALUES_NOT_FOUND, f"{handle} has no value at index {min(absent)}",
                                       field="index")
            if not overwrite:
                taken = {v.index for v in old.values} & {v.index for v in new}
                if taken:
                    raise HandleError(RC.VALUE_ALREADY_EXISTS,
                                      f"{handle} already has a value at index {min(taken)}", field="index")
            values = merge(old.values, new)
            result = "updated"
        else:
            if old is not None and not overwrite and not same_if_exists:
                raise HandleError(RC.HANDLE_ALREADY_EXISTS, f"handle {handle} already exists", field="handle")
            self.authorize_put(tx, identity, handle, prefix, suffix, old, new, partial=False, memo=memo)
            if old is None:
                check_register(tx, prefix, memo.quotas if memo else None)  # RC 604, against this transaction's count
            values = new
            values = with_admin(sorted(values, key=_by_index), self.svc.default_admin(identity, prefix, now, memo))
            result = "created" if old is None else "replaced"
        if old is not None and same_values(old.values, values):
            return "unchanged"  # a retry, or nothing new: no write, no change-log entry
        if old is not None and not partial and not overwrite:
            raise HandleError(RC.HANDLE_ALREADY_EXISTS, f"handle {handle} already exists with other values",
                              field="handle")
        if partial:
            check_values(values)  # merged with what was there
        elif len(values) > MAX_VALUES:  # the HS_ADMIN added above was one too many
            raise HandleError(RC.INVALID_VALUE, f"{len(values)} values with the HS_ADMIN the node adds; the "
                              f"limit is {MAX_VALUES} per handle", field="values")
        self.svc.check_template(tx, prefix, values)
        tx.put_handle(handle, values, old=old, who=memo.who(identity) if memo else str(identity), now=now, k=k)
        return result

    def authorize_put(self, tx: Tx, identity: Identity | None, handle: str, prefix: str, suffix: str,
                       old: Record | None, new: list[HandleValue], *, partial: bool,
                       memo: TxMemo | None = None) -> None:
        """May ``identity`` make this put?"""
        if partial:
            if old is None:
                raise HandleError(RC.HANDLE_NOT_FOUND, f"handle {handle} not found", field="handle")
            self.svc.authorize(tx, identity, prefix, suffix, old, _change_bits(old.values, new), f"change {handle}",
                               memo)
        elif old is not None:
            self.svc.authorize(tx, identity, prefix, suffix, old, adm.MODIFY_VALUE | adm.REMOVE_VALUE,
                           f"replace {handle}", memo)
        else:
            self.svc.authorize(tx, identity, prefix, suffix, None, adm.ADD_HANDLE, f"create {handle}", memo)

    async def hash_secrets(self, values: list[HandleValue], identity: Identity | None) -> list[HandleValue]:
        """``hash_secret_values`` in the hash pool (resolver/kdfpool.py): never on the event loop or the
        writer thread, at most a couple of jobs per identity at once."""
        return await self.svc.hash_pool.run(hash_secret_values, values, self.svc.seal, keys=(str(identity),))

    @mutation("delete_handle", target=0)
    async def delete_handle(self, att: Attempt, handle: str, identity: Identity | None, *, indexes: list[int] | None = None) -> str:
        handle = strip_scheme(handle)
        prefix, suffix = split(handle)
        if self.svc.share is not None:
            self.svc.share.check(handle)
        self.svc.quotas.admit_prefix(prefix)  # RC 603
        now = self.svc.now()

        def op(tx: Tx) -> str:
            old = tx.get_handle(handle)
            if old is None:
                if not self.svc.serves(tx, prefix, suffix):
                    raise HandleError(RC.SERVER_NOT_RESPONSIBLE, f"prefix {prefix} is not served by this node")
                raise HandleError(RC.HANDLE_NOT_FOUND, f"handle {handle} not found", field="handle")
            return self.apply_delete(tx, identity, handle, prefix, suffix, old, indexes, now)

        return await self.svc.write(op, attempt=att)

    def apply_delete(self, tx: Tx, identity: Identity | None, handle: str, prefix: str, suffix: str,
                      old: Record, indexes: list[int] | None, now: int, memo: TxMemo | None = None) -> str:
        self.svc.check_writable(tx, prefix, suffix, memo)
        if not indexes:
            self.svc.authorize(tx, identity, prefix, suffix, old, adm.DELETE_HANDLE, f"delete {handle}", memo)
            tx.delete_handle(handle, who=str(identity), now=now)
            return "deleted"
        check_distinct(indexes)
        present = {v.index for v in old.values}
        gone = [i for i in indexes if i not in present]
        if gone:
            raise ValueMissing(RC.VALUES_NOT_FOUND, f"{handle} has no value at index {gone[0]}", field="index")
        drop = set(indexes)
        removed = [v for v in old.values if v.index in drop]
        bits = adm.REMOVE_ADMIN if any(v.type == HS_ADMIN for v in removed) else adm.REMOVE_VALUE
        self.svc.authorize(tx, identity, prefix, suffix, old, bits, f"remove values of {handle}", memo)
        values = [v for v in old.values if v.index not in drop]
        self.svc.check_template(tx, prefix, values)
        tx.put_handle(handle, values, old=old, who=str(identity), now=now)
        return "updated"


def _change_bits(old: list[HandleValue], new: list[HandleValue]) -> int:
    present = {v.index: v for v in old}
    bits = 0
    for v in new:
        is_admin = v.type == HS_ADMIN or (v.index in present and present[v.index].type == HS_ADMIN)
        if v.index in present:
            bits |= adm.MODIFY_ADMIN if is_admin else adm.MODIFY_VALUE
        else:
            bits |= adm.ADD_ADMIN if is_admin else adm.ADD_VALUE
    return bits
