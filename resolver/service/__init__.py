"""Every operation of the node, once: HTTP, the Handle protocol and the CLI are adapters around it.

``Service`` is built once per process with its collaborators passed in (resolver/assembly/service_setup.py
and resolver/assembly/serve.py do it): the store and its group committer, the policy (limits, lock-out,
audit), the template check, the EPCIS schema, the sealer of new secrets, and where the node has them,
the remote resolver, the client for traces elsewhere, its share of a site of several, the reports'
counters and a top-level node's deposits. Nothing is set on it afterwards.

The core (``base.Core``) holds them, writes through the committer, authenticates and authorizes.
The operations live in groups, one object per module, each holding the service; ``OPERATIONS`` says
which group answers which operation, and the service answers each of them itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from storage import GroupCommitter, Store

from ..counters import Counters
from ..credentials import Seal
from .admission import AdmissionOps, Intent
from .audit_query import AuditOps
from .base import Core, Policy, TemplateCheck
from .batch import MAX_BATCH, BatchOps
from .cache import Resolution
from .dated_login import DatedLoginOps
from .epcis_schema import EpcisSchema, default_schema_path
from .events import EventOps
from .federation import FederationOps, Referral, Share
from .handles import HandleOps
from .lockouts import LockoutOps
from .prefixes import PrefixOps
from .replication import ReplicationOps
from .templates import TemplateOps, check_template
from .tokens import TokenOps
from .trace import TraceOps
from .trace_federated import FederatedTraceOps

# Which group answers which operation (the service answers them all: ``svc.resolve(...)``).
OPERATIONS: dict[str, tuple[str, ...]] = {
    "handles": ("resolve", "version_of", "handle_for_gs1", "list_handles", "put_handle", "delete_handle",
                "hash_secrets"),
    "federation": ("resolve_anywhere", "served_elsewhere", "resolve_remote", "delegation", "tell_upstream",
                   "federation_status"),
    "admission": ("admit",),
    "batches": ("batch",),
    "prefixes": ("operator", "allocate_prefix", "set_prefix_state", "set_quota", "delete_prefix", "rotate_secret",
                 "rotate_node_secret", "set_public_trace", "get_prefix", "list_prefixes", "init_node"),
    "templates": ("put_template", "revise_template", "get_template", "list_templates", "delete_template"),
    "events": ("may_capture", "may_declare", "prepare", "capture", "start_capture_job", "capture_job",
               "require_event_reader", "may_read_event", "get_event", "query_events", "query_document"),
    "tracing": ("trace",),
    "federated_tracing": ("trace_anywhere",),
    "replication": ("changes_after", "last_sequence", "make_snapshot", "promote"),
    "auditing": ("audit_trail",),
    "tokens": ("issue_token", "revoke_token", "revoke_tokens", "list_tokens", "revoke_token_by_id"),
    "logins": ("authenticate_dated",),
    "lockouts": ("clear_lockout",),
}


class Service(Core):
    """Handles, batches, prefixes, templates, EPCIS events with their trace (across nodes), replication,
    the audit trail and bearer tokens (and the dated-digest login), and clearing lock-outs, over one store."""

    def __init__(self, store: Store, committer: GroupCommitter, *, policy: Policy | None = None,
                 check_template: TemplateCheck = check_template, epcis: EpcisSchema | None = None,
                 role: str = "secondary", remote=None, traces=None, share: Share | None = None,
                 counters: Counters | None = None, deposits=None, seal: Seal | None = None,
                 clock: Callable[[], float] = time.time,
                 cache_entries: int = 100_000, secret_cache_ttl: float = 300.0):
        super().__init__(store, committer, policy=policy or Policy.for_store(store, committer, clock),
                         check_template=check_template, epcis=epcis or EpcisSchema(default_schema_path()),
                         role=role, remote=remote, traces=traces, share=share, counters=counters,
                         deposits=deposits, seal=seal, clock=clock, cache_entries=cache_entries,
                         secret_cache_ttl=secret_cache_ttl)
        self.handles = HandleOps(self)
        self.federation = FederationOps(self)
        self.admission = AdmissionOps(self)
        self.batches = BatchOps(self)
        self.prefixes = PrefixOps(self)
        self.templates = TemplateOps(self)
        self.events = EventOps(self)
        self.tracing = TraceOps(self)
        self.federated_tracing = FederatedTraceOps(self)
        self.replication = ReplicationOps(self)
        self.auditing = AuditOps(self)
        self.tokens = TokenOps(self)
        self.logins = DatedLoginOps(self)
        self.lockouts = LockoutOps(self)
        for group, names in OPERATIONS.items():
            ops = getattr(self, group)
            for name in names:
                setattr(self, name, getattr(ops, name))  # bound once: no lookup through the group per call


__all__ = ["MAX_BATCH", "OPERATIONS", "Intent", "Policy", "Referral", "Resolution", "Service"]
