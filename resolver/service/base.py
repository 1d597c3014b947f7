"""The service core: the store and the collaborators, writing, authentication and the one permission check."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from protocol import admin as adm
from protocol.admin import AdminRef
from protocol.codes import RC, HandleError
from protocol.handles import NA_PREFIX, ancestors, fold, is_within, na_handle
from protocol.refusals import Busy, Moved, StorageFull, Unavailable
from protocol.values import HS_ADMIN, HandleValue
from storage import NOTHING_WRITTEN, GroupCommitter, Record, Store, StoreFull, Tx, WriteFailed
from storage.commit import Prepare

from ..audit_trail import Attempt, AuditLog, Caller
from ..counters import Counters
from ..credentials import NODE_ADMIN_INDEX, Identity, Seal, VerifiedCache, parse_basic
from ..kdfpool import KdfPool
from ..limits import Limits
from ..lockout import AuthGuard, Refused
from ..quotas import DailyRequests
from . import groups
from .cache import RecordCache
from .epcis_schema import EpcisSchema
from .tokens import DEFAULT_LIFETIME as DEFAULT_TOKEN_LIFETIME
from .tokens import token_identity

if TYPE_CHECKING:  # the collaborators' types only: the service does not build them
    from ..escrow.takeover import Deposits
    from ..federation.remote import RemoteResolver
    from ..federation.traces import TraceClient
    from .federation import Share

# Failures that are no guess at a secret, so count towards no lock-out: the node could not check the
# proof (a secret set before it kept them sealed, an unsupported kind of proof), or the challenge it
# answers is no longer open.
NOT_A_GUESS = frozenset({RC.UNABLE_TO_AUTHENTICATE, RC.AUTHENTICATION_TIMEOUT})
LOCKOUT_CLEARED = "lockout_cleared/"  # + the guard's key: the wall-clock time of the latest clearance


def not_authorized(identity: Identity, what: str) -> HandleError:
    return HandleError(RC.NOT_AUTHORIZED, f"{identity} may not {what}")


class ReadOnlyMirror(Moved):
    """A write sent to a mirror: HTTP answers 307 to the same path on the primary."""

    def __init__(self, primary: str):
        super().__init__(RC.SERVER_BACKUP, f"this node is a read-only mirror of {primary}: send writes there",
                         primary)


@dataclass(eq=False)
class Policy:
    """What the node's settings decide about callers (reloaded in place on SIGHUP): request rates and
    connections (limits), lock-out after repeated failures (guard), the audit trail's refusal caps
    (audit), and how long a bearer token lives."""

    limits: Limits
    guard: AuthGuard
    audit: AuditLog
    token_lifetime: int = DEFAULT_TOKEN_LIFETIME

    @classmethod
    def for_store(cls, store: Store, committer: GroupCommitter, clock: Callable[[], float] = time.time) -> Policy:
        """The default policy over a store: the node admin's lock-out clearances are read from it
        (service/lockouts.py), so that every worker honours them."""
        return cls(Limits(), AuthGuard(cleared=partial(lockout_cleared_at, store)), AuditLog(committer, clock))


def lockout_cleared_at(store: Store, key: str) -> float | None:
    with store.read() as tx:
        at = tx.get_meta(LOCKOUT_CLEARED + key)
    return at if isinstance(at, (int, float)) else None


TemplateCheck = Callable[[Tx, str, list[HandleValue]], None]


class Core:
    """The store and the collaborators every operation group shares (service/__init__.py composes them):
    writing through the group committer, authentication, and the one permission check."""

    def __init__(self, store: Store, committer: GroupCommitter, *, policy: Policy, check_template: TemplateCheck,
                 epcis: EpcisSchema, role: str = "secondary", remote: RemoteResolver | None = None,
                 traces: TraceClient | None = None, share: Share | None = None, counters: Counters | None = None,
                 deposits: Deposits | None = None, seal: Seal | None = None, clock: Callable[[], float] = time.time,
                 cache_entries: int = 100_000, secret_cache_ttl: float = 300.0):
        self.store = store
        self.committer = committer
        self.clock = clock
        self.policy = policy
        self.audit = policy.audit
        self.guard = policy.guard  # lock-out after repeated failures, for HTTP and the Handle protocol
        self.limits = policy.limits  # request rates and connections per address and identity
        self.check_template = check_template  # a record naming a template must satisfy it (service/templates.py)
        self.epcis = epcis  # the EPCIS 2.0 JSON schema captures are checked against
        self.role = role  # "secondary", or "top" for a top-level node (which delegates prefixes)
        self.remote = remote  # asks the site that serves a handle, on a node with upstreams or a top-level one
        self.traces = traces  # traces of parts served elsewhere (service/trace_federated.py), with ``remote``
        self.share = share  # this server's place in a site of several, when it is one
        self.counters = counters  # what the reports count (resolver/reports), when the node counts
        self.deposits = deposits  # a top-level node's deposits of secondaries it serves for (resolver/escrow)
        # Seals each new secret into its verifier for the Handle protocol's challenges (credentials.py);
        # None: verifiers without it (a service without the data folder's key, in tests).
        self.seal = seal
        self.cache = RecordCache(cache_entries)
        self.verified = VerifiedCache(secret_cache_ttl)
        self.resolutions: dict[bytes, int] = {}  # per folded handle prefix, for statistics upstream
        self.quotas = DailyRequests(store, clock)  # prefixes' daily request limits (RC 603), resolver/quotas.py
        # The slow hashes, each kind in a bounded pool of its own (resolver/kdfpool.py): checking a
        # presented secret, and hashing the secrets a write carries (after it is authorized).
        self.verify_pool = KdfPool("verification", threads=2, queue=64, per_key=4)
        self.hash_pool = KdfPool("secret hashing", threads=2, queue=64, per_key=2)
        with store.read() as tx:
            self.node_prefix: str | None = tx.get_meta("node_prefix")
            self.mirror_of: str | None = tx.get_meta("mirror_of")  # a mirror refuses writes

    def now(self) -> int:
        return int(self.clock())

    async def write(self, op: Callable[[Tx], object] | None = None, *, prepare: Prepare | None = None,
                    weight: int = 1, attempt: Attempt | None = None) -> object:
        """Run ``op`` in the next group commit; return once it is durable. The first write of a
        mutation (``attempt``: resolver/audit_trail.py) carries its audit entry in the same transaction.

        ``prepare`` instead of ``op``: the writer thread builds the operation just before the
        transaction (storage/commit.py); when it finds nothing to write, the answer is
        ``NOTHING_WRITTEN`` and the mutation is still to be recorded.

        Storage that cannot take the write (full, or failing) is the node's problem, not the caller's,
        and is answered as such, naming it: HTTP 507 or 503 with response code 2 (RC_ERROR).
        """
        if self.mirror_of is not None:
            self.refuse_writes_if_mirror()
        att = attempt
        if att is not None:  # a mutation (the node's own background work is never shed) (the node's own background work is never shed)
            backlog = self.committer.backlog()
            if 0 < self.limits.max_pending_writes <= backlog:
                raise Busy(RC.SERVER_TOO_BUSY, f"the node is busy: {backlog} writes are waiting to be committed; "
                           "retry shortly", 1)
        if prepare is None:
            prepare = lambda: op  # noqa: E731 - an operation known already is its own preparation
        if att is not None and att.mutating and not att.recorded:
            prepare = self.audit.recording(att, prepare)
        else:
            att = None
        try:
            result = await asyncio.wrap_future(self.committer.submit_prepared(prepare, weight))
        except StoreFull as e:
            raise StorageFull(RC.ERROR, str(e)) from None
        except WriteFailed as e:
            raise Unavailable(RC.ERROR, str(e)) from None
        if att is not None and result is not NOTHING_WRITTEN:
            att.recorded = True
        return result

    def refuse_writes_if_mirror(self) -> None:
        """On a mirror, the referral to its primary."""
        if self.mirror_of is not None:
            raise ReadOnlyMirror(self.mirror_of)

    def require_initialised(self) -> str:
        if self.node_prefix is None:
            with self.store.read() as tx:
                self.node_prefix = tx.get_meta("node_prefix")
        if self.node_prefix is None:
            raise HandleError(RC.ERROR, "this node has no prefix yet: run `idnode init --prefix P` first")
        return self.node_prefix

    def require_node_admin(self, identity: Identity | None, what: str) -> None:
        """Only the node admin may ``what`` (prefixes, the change log, the audit trail, federation)."""
        if identity is None:
            raise HandleError(RC.AUTHENTICATION_NEEDED, f"authentication is needed to {what}")
        if not identity.node_admin:
            raise HandleError(RC.NOT_AUTHORIZED, f"{identity} may not {what}: only the node admin may")

    # --- authentication ---------------------------------------------------------------------------
    async def authenticate(self, index: int, handle: str, secret: str, *, caller: Caller | None = None) -> Identity:
        """The identity ``index:handle`` if ``secret`` is its secret (see ``login``)."""
        return await self.login(index, handle, lambda: self._authenticate(index, handle, secret, caller),
                                caller=caller)

    async def login(self, index: int, handle: str, prove: Callable[[], Awaitable[Identity]], *,
                    caller: Caller | None = None) -> Identity:
        """The one login sequence for every kind of proof (a secret over HTTP Basic or in a token
        request, the SNMS dated digest, the Handle protocol's challenge answer): refused unchecked
        while the identity or the caller's address is locked out; ``prove`` then checks the proof; a
        failure is audited once and, when it was a guess (not ``NOT_A_GUESS``), counts towards a
        lock-out; a success is counted against the identity's request rate. Without a ``caller`` (the
        node's own checks, tests) nothing is audited."""
        who = f"{index}:{handle}"
        client = caller.client if caller is not None else None
        try:
            self.guard.check(who, client)
            try:
                identity = await prove()
            except (Refused, Busy):
                raise  # busy: not a guess
            except HandleError as e:
                if e.rc not in NOT_A_GUESS:
                    self.guard.failed(who, client)
                raise
        except HandleError as e:
            if caller is not None:
                await self.audit.denied(Attempt.of(caller, identity=who), e, authentication=True)
            raise
        self.guard.succeeded(who, client)
        self.limits.check_identity(str(identity), time.perf_counter())
        return identity

    async def _authenticate(self, index: int, handle: str, secret: str, caller: Caller | None) -> Identity:
        with self.store.read() as tx:
            verifier = tx.get_verifier(index, handle)
        if verifier is None:
            raise HandleError(RC.AUTHENTICATION_NEEDED, f"authentication failed: {index}:{handle} has no secret key")
        ok = self.verified.fresh(secret, verifier)
        if not ok:
            # The slow hash runs in its own bounded pool, off the event loop; an identity, or an address,
            # has at most a few checks in flight, and the same check in flight is made once.
            keys: tuple = (f"id:{index}:{fold(handle)}",)
            if caller is not None and caller.client not in (None, "local"):
                keys += (f"ip:{caller.client}",)
            ok = await self.verify_pool.run(self.verified.check, secret, verifier, keys=keys,
                                            share=self.verified.key(secret, verifier))
        if not ok:
            raise HandleError(RC.AUTHENTICATION_NEEDED, f"authentication failed: wrong secret for {index}:{handle}")
        node = self.node_prefix
        is_admin = node is not None and index == NODE_ADMIN_INDEX and fold(handle) == fold(na_handle(node))
        return Identity(index, handle, is_admin)

    async def identity_from_basic(self, header: str | None, *, caller: Caller | None = None) -> Identity | None:
        """The identity an ``Authorization`` header proves: HTTP Basic, or a bearer token
        (service/tokens.py)."""
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer":
            try:
                identity = token_identity(self.store, token.strip(), now=self.clock(), node_prefix=self.node_prefix,
                                          mirror_of=self.mirror_of)
            except HandleError as e:
                if caller is not None:
                    await self.audit.denied(Attempt.of(caller), e, authentication=True)
                raise
            self.limits.check_identity(str(identity), time.perf_counter())
        else:
            index, handle, secret = parse_basic(header)
            identity = await self.authenticate(index, handle, secret, caller=caller)  # the rate is checked there
        return identity

    # --- prefixes served here ----------------------------------------------------------------------
    def owning_prefix(self, tx: Tx, prefix: str) -> dict | None:
        """The allocated prefix record (enterprise or the node's own) that ``prefix`` is, or lies under."""
        for p in ancestors(prefix):
            rec = tx.get_prefix(p)
            if rec is not None:
                return rec
        return None

    def serves(self, tx: Tx, prefix: str, suffix: str) -> bool:
        if fold(prefix) == "0.na":
            prefix = suffix
        node = self.node_prefix
        if node is not None and is_within(prefix, node):
            return True
        return self.owning_prefix(tx, prefix) is not None

    # --- the permission check -----------------------------------------------------------------------
    def may_administer(self, tx: Tx, identity: Identity | None, prefix: str, suffix: str,
                       record: Record | None, bit: int, memo: TxMemo | None = None) -> bool:
        """May ``identity`` do ``bit`` (an HS_ADMIN permission) to handle prefix/suffix?

        The node admin may do anything. A prefix's admin ``300:0.NA/<P>`` may act on handles under
        ``P`` and nothing else, whatever HS_ADMIN a handle elsewhere carries. Another identity (say
        ``300:88.101.5/ADMIN``) may act on handles of its own prefix whose HS_ADMIN names it with the
        permission, or names an admin group (HS_VLIST) it belongs to; for a new handle, the HS_ADMIN
        of the prefix handle ``0.NA/<P>`` decides.
        """
        if identity is None:
            return False
        if identity.node_admin:
            return True
        if memo is not None:
            k = (prefix, suffix if prefix.lower() == "0.na" else "", bit)
            verdict = memo.allowed.get(k)
            if verdict is None:
                verdict = memo.allowed[k] = self._prefix_verdict(tx, identity, prefix, suffix, bit)
        else:
            verdict = self._prefix_verdict(tx, identity, prefix, suffix, bit)
        if verdict is not None:
            return verdict
        values = record.values if record is not None else self._na_values(tx, prefix)
        refs = [ref for ref in _admin_refs(values) if ref.handle and ref.allows(bit)]
        ih = identity.folded
        if any(fold(ref.handle) == ih and ref.index == identity.index for ref in refs):
            return True
        # An HS_ADMIN may name a group (an HS_VLIST) rather than one identity (service/groups.py).
        if memo is None:
            return any(groups.is_named(tx, ref.handle, ref.index, identity) for ref in refs)
        for ref in refs:
            k = (ref.handle, ref.index, identity)
            named = memo.groups.get(k)
            if named is None:
                named = memo.groups[k] = groups.is_named(tx, ref.handle, ref.index, identity)
            if named:
                return True
        return False

    def _prefix_verdict(self, tx: Tx, identity: Identity, prefix: str, suffix: str, bit: int) -> bool | None:
        """The answer where the record cannot change it; None where its HS_ADMIN values decide."""
        target_is_na = fold(prefix) == "0.na"
        scope = suffix if target_is_na else prefix
        ip, _, isuffix = identity.handle.partition("/")
        if fold(ip) == "0.na":
            if target_is_na:
                # Prefix handles are the node admin's to change; their owner may read its own; on a
                # top-level node, a delegate registers the prefixes beneath its own.
                if bit == adm.READ_VALUE and identity.index == NODE_ADMIN_INDEX and fold(suffix) == fold(isuffix):
                    return True
                return self.delegate_verdict(tx, identity, suffix, bit)
            if identity.index == NODE_ADMIN_INDEX and is_within(scope, isuffix):
                return tx.get_prefix(isuffix) is not None
            return False
        if target_is_na or not is_within(scope, ip):
            return False
        return None

    def delegate_verdict(self, tx: Tx, identity: Identity, target: str, bit: int) -> bool:
        """On a top-level node, ``300:0.NA/<P>`` (P delegated here) may register, change and remove the
        prefix records of prefixes beneath P, and change its own record (its site, its statistics),
        but not remove it."""
        if self.role != "top" or identity.index != NODE_ADMIN_INDEX:
            return False
        own = identity.handle.partition("/")[2]
        if not own or tx.get_prefix(own) is None or not is_within(target, own):
            return False
        return fold(target) != fold(own) or bit != adm.DELETE_HANDLE

    def _na_values(self, tx: Tx, prefix: str) -> list[HandleValue]:
        rec = tx.get_handle(na_handle(prefix))
        return rec.values if rec else []

    def authorize(self, tx: Tx, identity: Identity | None, prefix: str, suffix: str,
                  record: Record | None, bit: int, what: str, memo: TxMemo | None = None) -> None:
        if identity is None:
            raise HandleError(RC.AUTHENTICATION_NEEDED, f"authentication is needed to {what}")
        if not self.may_administer(tx, identity, prefix, suffix, record, bit, memo):
            raise not_authorized(identity, what)

    def check_writable(self, tx: Tx, prefix: str, suffix: str, memo: TxMemo | None = None) -> None:
        """Writes need a prefix allocated here and enabled (and, in a site of several, this server's share)."""
        if self.share is not None:
            self.share.check(f"{prefix}/{suffix}")
        if memo is None:
            problem = self._why_not_writable(tx, prefix, suffix)
        else:
            k = (prefix, suffix if prefix.lower() == "0.na" else "")
            problem = memo.writable.get(k, _UNSEEN)
            if problem is _UNSEEN:
                problem = memo.writable[k] = self._why_not_writable(tx, prefix, suffix)
        if problem is not None:
            raise HandleError(*problem[:2], field=problem[2])

    def _why_not_writable(self, tx: Tx, prefix: str, suffix: str) -> tuple[int, str, str | None] | None:
        scope = suffix if fold(prefix) == "0.na" else prefix
        rec = self.owning_prefix(tx, scope)
        if rec is None or (fold(prefix) != "0.na" and fold(rec["prefix"]) != fold(scope)):
            if not self.serves(tx, prefix, suffix):
                return RC.SERVER_NOT_RESPONSIBLE, f"prefix {scope} is not served by this node", None
            return RC.INVALID_HANDLE, f"prefix {scope} is not allocated on this node", "handle"
        if rec.get("state") == "disabled":
            return RC.NOT_AUTHORIZED, f"prefix {rec['prefix']} is disabled", None
        return None

    def default_admin(self, identity: Identity | None, prefix: str, now: int, memo: TxMemo | None) -> HandleValue:
        if memo is None:
            return default_admin(identity, prefix).with_timestamp(now)
        k = (identity, prefix)
        v = memo.admins.get(k)
        if v is None:
            v = memo.admins[k] = default_admin(identity, prefix).with_timestamp(now)
        return v


_UNSEEN = object()


class TxMemo:
    """What a batch works out once per transaction: verdicts that do not depend on the record."""

    __slots__ = ("writable", "allowed", "admins", "groups", "quotas", "_who")

    def __init__(self) -> None:
        self.writable: dict = {}
        self.quotas: dict = {}  # prefix → (its record's name, its handle quota): quotas.check_register
        self.allowed: dict = {}
        self.groups: dict = {}  # (admin handle, index, identity) → is the identity named there
        self.admins: dict = {}
        self._who: dict = {}

    def who(self, identity: Identity | None) -> str:
        """How the change log names the caller."""
        w = self._who.get(identity)
        if w is None:
            w = self._who[identity] = str(identity)
        return w


def _admin_refs(values: list[HandleValue]) -> list[AdminRef]:
    out = []
    for v in values:
        if v.type == HS_ADMIN:
            try:
                out.append(AdminRef.from_wire(v.data))
            except HandleError:
                continue
    return out


def default_admin(identity: Identity | None, prefix: str) -> HandleValue:
    """The HS_ADMIN a handle gets when its creator sent none: the creator, or the prefix admin."""
    if identity is not None:
        ref = AdminRef(identity.handle, identity.index, adm.DEFAULT)
    else:
        ref = AdminRef(f"{NA_PREFIX}/{prefix}", NODE_ADMIN_INDEX, adm.DEFAULT)
    return HandleValue(100, HS_ADMIN, ref.to_wire(), fmt="admin")
